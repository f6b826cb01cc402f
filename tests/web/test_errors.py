"""Every error is a JSON envelope naming the problem, and changes nothing."""

from __future__ import annotations

import pytest


def assert_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    for word in words:
        assert word in body["message"], body["message"]
    return body


@pytest.fixture
def registered(api):
    api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})


def test_invalid_json(api, registered):
    assert_error(api.post("/heartbeat", content=b"{nope", headers={"content-type": "application/json"}), 400, "JSON")


def test_form_encoded_body(api, registered):
    response = api.post("/heartbeat", data={"heartbeat_name": "svc-hb", "status": "UP"})
    assert_error(response, 415, "application/json")


def test_json_that_is_not_an_object(api):
    assert_error(api.post("/heartbeat", json=["svc-hb", "UP"]), 400, "object")


def test_empty_body(api):
    assert_error(api.post("/heartbeat", headers={"content-type": "application/json"}), 400, "empty")


def test_missing_field(api):
    body = assert_error(api.post("/heartbeat", json={"heartbeat_name": "svc-hb"}), 400, "status")
    assert body["results"] == [{"field": "status", "problem": "Field required"}]


def test_unknown_status(api, registered):
    assert_error(api.post("/heartbeat", json={"heartbeat_name": "svc-hb", "status": "SIDEWAYS"}), 400, "status")
    assert api.get("/heartbeat").json()["results"] == []


@pytest.mark.parametrize("interval", [0, -1, "5", 1.5, None])
def test_bad_alert_interval(api, interval):
    body = {"heartbeat_name": "x-hb", "service_name": "x", "alert_interval": interval}
    assert_error(api.post("/service", json=body), 400, "alert_interval")
    assert api.get("/service").json()["results"] == []


@pytest.mark.parametrize(
    "field,value",
    [("priority", "p9"), ("threshold", 0), ("grace_period_seconds", -1), ("runbook", "ftp://x"), ("team", "")],
)
def test_bad_service_fields(api, field, value):
    body = {"heartbeat_name": "x-hb", "service_name": "x", "alert_interval": 5, field: value}
    assert_error(api.post("/service", json=body), 400, field)


def test_unknown_key_rejected_on_register(api):
    body = {"heartbeat_name": "x-hb", "service_name": "x", "alert_interval": 5, "colour": "red"}
    assert_error(api.post("/service", json=body), 400, "colour")


def test_unknown_service(api):
    assert_error(api.post("/heartbeat", json={"heartbeat_name": "ghost", "status": "UP"}), 404, "ghost")
    assert_error(api.get("/service/ghost"), 404, "ghost")


def test_oversized_body(api, registered):
    huge = b'{"heartbeat_name": "svc-hb", "status": "UP", "pad": "' + b"x" * 70_000 + b'"}'
    assert_error(api.post("/heartbeat", content=huge, headers={"content-type": "application/json"}), 413, "too large")
    assert api.get("/heartbeat").json()["results"] == []


def test_unknown_route(api):
    assert_error(api.get("/nowhere"), 404, "/nowhere")


def test_wrong_method(api):
    response = assert_error(api.delete("/heartbeat"), 405, "DELETE")
    assert "POST" in response["message"]


def test_bad_query_parameter(api):
    assert_error(api.get("/alerts", params={"active": "maybe"}), 400, "active")
    assert_error(api.get("/heartbeat", params={"maxCount": "lots"}), 400, "maxCount")


def test_null_for_required_update_field(api, registered):
    assert_error(api.post("/service/svc-hb", json={"alert_interval": None}), 400, "alert_interval")
