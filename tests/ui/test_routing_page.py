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
