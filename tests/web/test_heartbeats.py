"""POST/GET /heartbeat over real HTTP, on every backend."""

from __future__ import annotations

from datetime import timedelta


def register(api, name="svc-hb", **extra):
    body = {"heartbeat_name": name, "service_name": "svc", "alert_interval": 5, **extra}
    response = api.post("/service", json=body)
    assert response.status_code == 201, response.text
    return response.json()["results"]


def test_heartbeat_is_stored_and_listed_newest_first(api, clock):
    register(api)
    for status in ("UP", "degraded", "Down"):
        response = api.post("/heartbeat", json={"heartbeat_name": "svc-hb", "status": status})
        assert response.status_code == 201
        assert response.headers["content-type"] == "application/json"
        clock.advance(seconds=1)
    listing = api.get("/heartbeat", params={"heartbeat_name": "svc-hb"}).json()
    assert listing["success"] is True
    assert [item["status"] for item in listing["results"]] == ["DOWN", "DEGRADED", "UP"]
    item = listing["results"][0]
    assert set(item) == {"heartbeat_id", "heartbeat_name", "service_name", "time", "status", "team", "priority"}
    assert item["team"] == "site-reliability" and item["priority"] == "p3"
    assert item["time"].endswith(("Z", "+00:00"))


def test_heartbeat_name_is_case_insensitive(api):
    register(api, "Mixed-Case")
    response = api.post("/heartbeat", json={"heartbeat_name": "MIXED-case", "status": "UP"})
    assert response.status_code == 201
    assert response.json()["results"]["heartbeat_name"] == "Mixed-Case"


def test_unknown_keys_are_ignored_on_heartbeat(api):
    register(api)
    response = api.post(
        "/heartbeat", json={"heartbeat_name": "svc-hb", "status": "UP", "service_name": "svc", "hostname": "x"}
    )
    assert response.status_code == 201


def test_unknown_heartbeat_is_404_and_stores_nothing(api):
    response = api.post("/heartbeat", json={"heartbeat_name": "ghost", "status": "UP"})
    assert response.status_code == 404
    assert "ghost" in response.json()["message"]
    assert api.get("/heartbeat").json()["results"] == []


def test_inactive_service_is_400_and_stores_nothing(api):
    register(api)
    assert api.post("/service/svc-hb", json={"active": False}).status_code == 200
    response = api.post("/heartbeat", json={"heartbeat_name": "svc-hb", "status": "UP"})
    assert response.status_code == 400
    assert "inactive" in response.json()["message"]
    assert api.get("/heartbeat", params={"heartbeat_name": "svc-hb"}).json()["results"] == []


def test_list_filters_and_max_count(api, clock):
    register(api, "a-hb", service_name="alpha")
    register(api, "b-hb", service_name="beta")
    for _ in range(3):
        api.post("/heartbeat", json={"heartbeat_name": "a-hb", "status": "UP"})
        api.post("/heartbeat", json={"heartbeat_name": "b-hb", "status": "UP"})
        clock.advance(seconds=1)
    assert len(api.get("/heartbeat").json()["results"]) == 6
    assert len(api.get("/heartbeat", params={"maxCount": 2}).json()["results"]) == 2
    beta = api.get("/heartbeat", params={"service_name": "beta"}).json()["results"]
    assert {item["heartbeat_name"] for item in beta} == {"b-hb"} and len(beta) == 3
    assert api.get("/heartbeat", params={"maxCount": 0}).status_code == 400


def test_heartbeat_moves_service_state_and_last_heartbeat(api, clock):
    register(api)
    assert api.get("/service/svc-hb").json()["results"][0]["state"] == "new"
    clock.advance(minutes=1)
    api.post("/heartbeat", json={"heartbeat_name": "svc-hb", "status": "UP"})
    service = api.get("/service/svc-hb").json()["results"][0]
    assert service["state"] == "up"
    assert service["last_status"] == "UP"
    assert service["last_heartbeat_at"].startswith((clock() - timedelta(0)).strftime("%Y-%m-%dT%H:%M"))
