"""The service page says who gets paged (docs/routing.md)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_SECRET_KEY": Fernet.generate_key().decode(), "PAGERDUTY_ROUTING_KEY": "env-key"}


def test_the_service_page_shows_the_matching_route_and_its_targets(page, fleet, api):
    fleet.register("db-hb", team="db")
    fleet.register("web-hb", team="web")
    response = api.post("/v2/routes", json={
        "name": "db-team", "match": {"team": "db"},
        "targets": [{"type": "pagerduty", "routing_key": "db-page-secret-key"}, {"type": "slack", "channel": "CDBTEAM"}],
        "escalate_after_minutes": 20, "escalate_to": [{"type": "email", "to": ["lead@example.com"]}],
    })
    assert response.status_code == 201, response.text
    html = page.get("/ui/service/db-hb").text
    assert "Who gets paged" in html
    assert "slack CDBTEAM" in html and "route &#39;db-team&#39; matches (team=db)" in html
    assert "escalates after 20 min to" in html
    assert "db-page-secret-key" not in html
    html = page.get("/ui/service/web-hb").text
    assert "No route matches this service" in html and "(pagerduty)" in html


def routes(api) -> list[dict]:
    response = api.get("/v2/routes")
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_the_routes_page_adds_lists_and_deletes_routes_with_the_api_rules(page, fleet, api):
    from tests.ui.conftest import csrf

    fleet.register("db-hb", team="db", labels={"env": "prod"})
    listing = page.get("/ui/routes")
    assert listing.status_code == 200 and "No routes yet" in listing.text
    token = csrf(listing.text)
    form = {"csrf_token": token, "name": "db-team", "team": "db", "labels": "env=prod",
            "targets": "pagerduty=db-page-secret-key\nslack=CDBTEAM",
            "escalate_after_minutes": "20", "escalate_to": "email=lead@example.com"}
    # Refused with the API's words, the secret never shown back, nothing stored.
    typo = page.post("/ui/routes", data={**form, "targets": "pagerdty=db-page-secret-key"})
    assert typo.status_code == 400 and "target &#39;pagerdty&#39;: expected TYPE=VALUE" in typo.text
    assert "db-page-secret-key" not in typo.text
    bad = page.post("/ui/routes", data={**form, "priority": "p9"})
    assert bad.status_code == 400 and "match.priority" in bad.text and "db-page-secret-key" not in bad.text
    assert "slack=CDBTEAM" in bad.text  # what is not secret is filled in again
    lonely = page.post("/ui/routes", data={**form, "escalate_after_minutes": ""})
    assert lonely.status_code == 400 and "escalate_after_minutes" in lonely.text
    assert routes(api) == []
    # Added: listed with secrets masked, and the service page names it.
    added = page.post("/ui/routes", data=form)
    assert added.status_code == 303 and added.headers["Location"] == "/ui/routes"
    [route] = routes(api)
    assert route["match"] == {"team": "db", "priority": None, "labels": {"env": "prod"}}
    assert [t["type"] for t in route["targets"]] == ["pagerduty", "slack"] and route["escalate_after_minutes"] == 20
    html = page.get("/ui/routes").text
    assert "Route db-team created." in html and "slack(channel=CDBTEAM)" in html and "after 20 min" in html
    assert "db-page-secret-key" not in html and "pagerduty(routing_key=********)" in html
    assert "route &#39;db-team&#39; matches" in page.get("/ui/service/db-hb").text
    taken = page.post("/ui/routes", data=form)
    assert taken.status_code == 409 and "already exists" in taken.text
    # Deleted after a confirmation.
    ask = page.post(f"/ui/routes/{route['id']}/delete", data={"csrf_token": token})
    assert ask.status_code == 200 and "Delete route" in ask.text and len(routes(api)) == 1
    gone = page.post(f"/ui/routes/{route['id']}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert gone.status_code == 303 and routes(api) == []
    assert page.post("/ui/routes/99999/delete", data={"csrf_token": token, "confirm": "yes"}).status_code == 404
