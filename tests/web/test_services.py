"""Service registration and updates over real HTTP."""

from __future__ import annotations

import pytest


def test_register_with_defaults(api):
    response = api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})
    assert response.status_code == 201
    service = response.json()["results"]
    assert service["threshold"] == 1
    assert service["team"] == "site-reliability"
    assert service["priority"] == "p3"
    assert service["grace_period_seconds"] == 0
    assert service["active"] == 1 and service["muted"] == 0 and service["down"] == 0
    assert service["state"] == "new"


def test_register_twice_returns_existing_with_200(api):
    first = api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})
    again = api.post("/service", json={"heartbeat_name": "SVC-HB", "service_name": "other", "alert_interval": 9})
    assert again.status_code == 200
    assert again.json()["results"]["service_id"] == first.json()["results"]["service_id"]
    assert again.json()["results"]["service_name"] == "svc"
    assert len(api.get("/service").json()["results"]) == 1


def test_environment_prefixes_the_name(api):
    response = api.post(
        "/service",
        json={"heartbeat_name": "billing-hb", "service_name": "billing", "alert_interval": 1, "environment": "staging"},
    )
    assert response.status_code == 201
    assert response.json()["results"]["heartbeat_name"] == "staging-billing-hb"
    assert api.get("/service/staging-billing-hb").status_code == 200


def test_all_options_are_stored(api):
    body = {
        "heartbeat_name": "full-hb",
        "service_name": "full",
        "alert_interval": 10,
        "threshold": 3,
        "team": "payments",
        "priority": "P1",
        "runbook": "https://runbooks.example.com/full",
        "grace_period_seconds": 30,
    }
    service = api.post("/service", json=body).json()["results"]
    assert {k: service[k] for k in body} == {**body, "priority": "p1"}


def test_list_filters(api):
    api.post("/service", json={"heartbeat_name": "a", "service_name": "alpha", "alert_interval": 1})
    api.post("/service", json={"heartbeat_name": "b", "service_name": "beta", "alert_interval": 1})
    api.post("/service/b", json={"active": 0})
    assert [s["heartbeat_name"] for s in api.get("/service", params={"active": "true"}).json()["results"]] == ["a"]
    assert [s["heartbeat_name"] for s in api.get("/service", params={"active": "0"}).json()["results"]] == ["b"]
    assert [s["heartbeat_name"] for s in api.get("/service", params={"service_name": "alpha"}).json()["results"]] == ["a"]


def test_partial_update_and_mute_dates(api, clock):
    api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})
    response = api.post("/service/svc-hb", json={"muted": "true", "team": "infra", "alert_interval": 7})
    assert response.status_code == 200
    service = response.json()["results"]
    assert service["muted"] == 1 and service["team"] == "infra" and service["alert_interval"] == 7
    assert service["date_muted"] is not None
    assert service["state"] == "muted"
    unmuted = api.post("/service/svc-hb", json={"muted": 0}).json()["results"]
    assert unmuted["muted"] == 0 and unmuted["date_muted"] is None


def test_update_unknown_service_is_404(api):
    response = api.post("/service/ghost", json={"muted": True})
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_update_rejects_unknown_keys_and_changes_nothing(api):
    api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})
    response = api.post("/service/svc-hb", json={"team": "infra", "colour": "red"})
    assert response.status_code == 400
    assert "colour" in response.json()["message"]
    assert api.get("/service/svc-hb").json()["results"][0]["team"] == "site-reliability"


def test_original_client_flow(api):
    """Register, three heartbeats, list them, then mute+deactivate with 0/1 flags."""
    assert api.post("/service", json={"heartbeat_name": "legacy-hb", "service_name": "legacy", "alert_interval": 1}).status_code == 201
    for _ in range(3):
        response = api.post("/heartbeat", json={"heartbeat_name": "legacy-hb", "service_name": "legacy", "status": "UP"})
        assert response.status_code == 201
    listing = api.get("/heartbeat", params={"heartbeat_name": "legacy-hb"}).json()
    assert listing["success"] is True and len(listing["results"]) == 3
    response = api.post("/service/legacy-hb", json={"muted": 1, "active": 0})
    assert response.status_code == 200
    assert response.json()["results"]["muted"] == 1 and response.json()["results"]["active"] == 0


def test_window_longer_than_retention_is_refused(api):
    body = {"heartbeat_name": "monthly", "service_name": "batch", "alert_interval": 45 * 1440}
    response = api.post("/service", json=body)
    assert response.status_code == 400
    assert "HEARTBEAT_RETENTION_DAYS" in response.json()["message"]
    assert api.get("/service").json()["results"] == []
    api.post("/service", json={**body, "alert_interval": 29 * 1440})
    response = api.post("/service/monthly", json={"grace_period_seconds": 2 * 86400})
    assert response.status_code == 400
    assert api.get("/service/monthly").json()["results"][0]["grace_period_seconds"] == 0


def test_service_list_is_paged(api):
    for i in range(5):
        api.post("/service", json={"heartbeat_name": f"s{i}", "service_name": "x", "alert_interval": 1})
    page = api.get("/service", params={"limit": 2, "offset": 2}).json()["results"]
    assert [s["heartbeat_name"] for s in page] == ["s2", "s3"]
    assert len(api.get("/service").json()["results"]) == 5  # default page of 1000
    assert api.get("/service", params={"limit": 0}).status_code == 400


@pytest.mark.parametrize("body, named", [
    ({"mute_for": "2 hours"}, "mute_for"),
    ({"mute_for": "0h"}, "mute_for"),
    ({"mute_for": 120}, "mute_for"),
    ({"mute_for": "366d"}, "mute_for"),
    ({"muted_until": "2026-01-05T11:00:00Z"}, "muted_until"),  # the clock is at 12:00Z: in the past
    ({"muted_until": "2026-01-05T13:00:00"}, "muted_until"),  # no offset
    ({"muted_until": "soon"}, "muted_until"),
    ({"muted_until": None}, "muted_until"),
    ({"mute_for": "2h", "muted_until": "2026-01-05T13:00:00Z"}, "muted_until, mute_for"),
    ({"muted": False, "mute_for": "2h"}, "mute_for"),
])
def test_bad_mute_durations_are_a_400_naming_the_field(api, body, named):
    api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})
    response = api.post("/service/svc-hb", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f"invalid body: {named}:"), response.json()["message"]
    assert api.get("/service/svc-hb").json()["results"][0]["muted"] == 0
