"""/v2/routes and /v2/services/<name>/routes: shapes, validation (JSON 4xx naming the
field), masking, and "who gets paged"."""

from __future__ import annotations

import httpx
import pytest
from cryptography.fernet import Fernet

from medic.config import load_settings
from medic.web import create_app
from tests.support.server import LiveServer

KEY = Fernet.generate_key().decode()


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_SECRET_KEY": KEY, "PAGERDUTY_ROUTING_KEY": "env-key", "PAGERDUTY_EVENTS_URL": "http://127.0.0.1:9/"}


@pytest.fixture
def make_api(engine, clock):
    opened = []

    def make(env: dict[str, str]) -> httpx.Client:
        url = engine.url.render_as_string(hide_password=False)
        live = LiveServer(create_app(load_settings({"MEDIC_DATABASE_URL": url, **env}), engine=engine, clock=clock))
        live.__enter__()
        client = httpx.Client(base_url=live.url, timeout=10)
        opened.append((live, client))
        return client

    yield make
    for live, client in opened:
        client.close()
        live.__exit__(None, None, None)


ROUTE = {
    "name": "db",
    "match": {"team": "db", "priority": "P1", "labels": {"env": "prod"}},
    "targets": [
        {"type": "pagerduty", "routing_key": "db-secret-routing-key"},
        {"type": "slack", "channel": "CDB"},
        {"type": "webhook", "url": "https://hooks.example.com/db", "secret": "hook-secret-1234"},
        {"type": "email", "to": ["dba@example.com", "oncall@example.com"]},
        {"type": "apprise", "url": "ntfy://127.0.0.1/db-alerts"},
    ],
}


def create(api, body=ROUTE):
    return api.post("/v2/routes", json=body)


def test_create_answers_201_with_id_and_masked_secrets(api):
    response = create(api)
    assert response.status_code == 201, response.text
    route = response.json()["results"]
    assert isinstance(route["id"], int) and route["name"] == "db"
    assert route["match"] == {"team": "db", "priority": "p1", "labels": {"env": "prod"}}
    pd, slack, hook, email, apprise = route["targets"]
    assert pd == {"id": pd["id"], "type": "pagerduty", "routing_key": "********"}
    assert slack["channel"] == "CDB" and hook["url"] == "https://hooks.example.com/db" and hook["secret"] == "********"
    assert email["to"] == ["dba@example.com", "oncall@example.com"] and apprise["url"] == "********"
    assert route["escalate_after_minutes"] is None and route["escalate_to"] == []
    assert "db-secret-routing-key" not in response.text and "hook-secret" not in response.text

    listed = api.get("/v2/routes").json()["results"]
    assert [r["id"] for r in listed] == [route["id"]]
    assert api.get(f"/v2/routes/{route['id']}").json()["results"] == route


@pytest.mark.parametrize(
    "change, field",
    [
        ({"name": ""}, "name"),
        ({"targets": []}, "targets"),
        ({"targets": [{"type": "pager"}]}, "targets.0"),
        ({"targets": [{"type": "pagerduty"}]}, "targets.0.pagerduty.routing_key"),
        ({"targets": [{"type": "slack", "channel": "C1", "extra": 1}]}, "targets.0.slack.extra"),
        ({"targets": [{"type": "webhook", "url": "ftp://x"}]}, "targets.0.webhook.url"),
        ({"targets": [{"type": "email", "to": ["not an address"]}]}, "targets.0.email.to"),
        ({"targets": [{"type": "email", "to": "a@example.com"}]}, "targets.0.email.to"),
        ({"targets": [{"type": "apprise", "url": "nosuchscheme://x"}]}, "targets.0.apprise.url"),
        ({"targets": [{"type": "pagerduty", "routing_key": {"env": "1BAD"}}]}, "targets.0.pagerduty.routing_key"),
        ({"match": {"priority": "p9"}}, "match.priority"),
        ({"match": {"labels": {"bad key!": "x"}}}, "match.labels"),
        ({"escalate_after_minutes": 10}, "escalate_after_minutes"),
        ({"escalate_after_minutes": 0, "escalate_to": [{"type": "slack", "channel": "C"}]}, "escalate_after_minutes"),
    ],
)
def test_bad_routes_are_a_400_naming_the_field(api, change, field):
    response = create(api, {**ROUTE, **change})
    assert response.status_code == 400, response.text
    body = response.json()
    assert field in body["message"], body["message"]
    assert "Traceback" not in response.text


def test_a_duplicate_name_is_a_409(api):
    assert create(api).status_code == 201
    response = create(api)
    assert response.status_code == 409 and "name" in response.json()["message"]


def test_unknown_routes_are_404(api):
    for path in ("/v2/routes/999", "/v2/routes/abc"):
        assert api.get(path).status_code == 404
        assert api.patch(path, json={"name": "x"}).status_code == 404
        assert api.delete(path).status_code == 404


def test_patch_replaces_what_it_names(api):
    route = create(api).json()["results"]
    response = api.patch(f"/v2/routes/{route['id']}", json={"match": {"team": "web"}, "name": "web"})
    assert response.status_code == 200, response.text
    changed = response.json()["results"]
    assert changed["name"] == "web" and changed["match"] == {"team": "web", "priority": None, "labels": {}}
    assert [t["id"] for t in changed["targets"]] == [t["id"] for t in route["targets"]]  # targets kept
    assert api.patch(f"/v2/routes/{route['id']}", json={}).status_code == 400
    response = api.patch(f"/v2/routes/{route['id']}", json={"escalate_to": [{"type": "slack", "channel": "C2"}]})
    assert response.status_code == 400 and "escalate_after_minutes" in response.json()["message"]


def test_without_a_secret_key_secret_values_are_refused_but_env_references_work(make_api):
    api = make_api({})
    response = create(api)
    assert response.status_code == 400
    assert "targets.0.routing_key" in response.json()["message"] and "MEDIC_SECRET_KEY" in response.json()["message"]
    body = {"name": "ref", "targets": [{"type": "pagerduty", "routing_key": {"env": "DB_PD_KEY"}}]}
    response = create(api, body)
    assert response.status_code == 201, response.text
    assert response.json()["results"]["targets"][0]["routing_key"] == {"env": "DB_PD_KEY"}


def test_who_gets_paged(api):
    api.post("/service", json={"heartbeat_name": "db-hb", "service_name": "db", "alert_interval": 1, "team": "db",
                               "priority": "p1", "labels": {"env": "prod"}})
    api.post("/service", json={"heartbeat_name": "web-hb", "service_name": "web", "alert_interval": 1, "team": "web"})
    route = create(api).json()["results"]
    create(api, {"name": "db-any", "match": {"team": "db"}, "targets": [{"type": "slack", "channel": "CANY"}]})

    answer = api.get("/v2/services/db-hb/routes")
    assert answer.status_code == 200, answer.text
    found = answer.json()["results"]
    assert found["default_route"] is False
    assert [r["name"] for r in found["routes"]] == ["db"]  # the more specific route wins
    assert found["routes"][0]["why"] == "team=db, priority=p1, label env=prod"
    assert [t["type"] for t in found["targets"]] == ["pagerduty", "slack", "webhook", "email", "apprise"]
    assert all(t["route_id"] == route["id"] for t in found["targets"])
    assert "db-secret-routing-key" not in answer.text

    default = api.get("/v2/services/web-hb/routes").json()["results"]
    assert default["default_route"] is True and default["routes"] == []
    assert [t["type"] for t in default["targets"]] == ["pagerduty"]
    assert api.get("/v2/services/nope/routes").status_code == 404
