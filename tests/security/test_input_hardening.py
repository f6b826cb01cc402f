"""Hostile input gets a 4xx naming the problem, changes nothing, and never a 500."""

from __future__ import annotations

import json

import pytest

from tests.security.support import ADMIN_KEY, bearer

ADMIN = bearer(ADMIN_KEY)
JSON = {**ADMIN, "content-type": "application/json"}


def assert_400(response, *words: str) -> dict:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    for word in words:
        assert word in body["message"], body["message"]
    return body


def services(api) -> list[str]:
    return [s["heartbeat_name"] for s in api.get("/service", headers=ADMIN).json()["results"]]


def test_deeply_nested_json(api, registered):
    assert_400(api.post("/heartbeat", content=b"[" * 60_000, headers=JSON), "nests too deeply")
    assert_400(api.post("/service", content=b'{"a":' * 10_000 + b"1" + b"}" * 10_000, headers=JSON))


@pytest.mark.parametrize("field", ["service_name", "team"])
@pytest.mark.parametrize("bad", ["a\x00b", "line\nbreak", "tab\there", "bell\x07", "del\x7f"])
def test_control_characters_in_strings(api, field, bad):
    body = {"heartbeat_name": "x-hb", "service_name": "x", "alert_interval": 5, field: bad}
    assert_400(api.post("/service", content=json.dumps(body), headers=JSON), field, "control characters")
    assert services(api) == []


def test_control_characters_in_queries_and_paths(api, registered):
    assert_400(api.get("/service", params={"service_name": "a\x00"}, headers=ADMIN), "service_name")
    assert_400(api.get("/heartbeat", params={"service_name": "\n"}, headers=ADMIN), "service_name")
    assert_400(api.get("/service/a%00b", headers=ADMIN), "heartbeat_name")
    assert_400(api.post("/service/a%0Ab", json={"muted": True}, headers=ADMIN), "heartbeat_name")
    assert_400(api.get("/service/" + "x" * 256, headers=ADMIN), "heartbeat_name", "255")


def test_lone_surrogates(api):
    raw = b'{"heartbeat_name": "x-hb", "service_name": "\\ud800", "alert_interval": 5}'
    assert_400(api.post("/service", content=raw, headers=JSON), "service_name")
    assert services(api) == []


@pytest.mark.parametrize(
    "runbook",
    ["http://", "https://", "javascript:alert(1)", "ftp://example.com/x", "https://exa mple.com", "https://x\n.com", "//example.com"],
)
def test_runbook_must_be_an_http_url_with_a_host(api, runbook):
    body = {"heartbeat_name": "x-hb", "service_name": "x", "alert_interval": 5, "runbook": runbook}
    assert_400(api.post("/service", content=json.dumps(body), headers=JSON), "runbook")


def test_a_good_runbook_is_kept(api):
    body = {"heartbeat_name": "x-hb", "service_name": "x", "alert_interval": 5, "runbook": "https://wiki.example.com/x?y=1#z"}
    assert api.post("/service", json=body, headers=ADMIN).json()["results"]["runbook"] == body["runbook"]


@pytest.mark.parametrize(
    "field,value",
    [("alert_interval", 10**40), ("alert_interval", True), ("threshold", "1"), ("grace_period_seconds", 1.0), ("muted", 2)],
)
def test_strict_types(api, registered, field, value):
    if field == "muted":
        assert_400(api.post(f"/service/{registered}", json={field: value}, headers=ADMIN), field)
    else:
        body = {"heartbeat_name": "y-hb", "service_name": "y", "alert_interval": 5, field: value}
        assert_400(api.post("/service", json=body, headers=ADMIN), field)


def test_long_strings(api):
    body = {"heartbeat_name": "x" * 256, "service_name": "s", "alert_interval": 5}
    assert_400(api.post("/service", json=body, headers=ADMIN), "heartbeat_name")
    body = {"heartbeat_name": "x-hb", "service_name": "s" * 256, "alert_interval": 5}
    assert_400(api.post("/service", json=body, headers=ADMIN), "service_name")


def test_unexpected_errors_reveal_nothing(serve):
    with serve({"MEDIC_AUTH": "disabled"}) as client:

        @client.app.get("/explode")
        def explode():
            raise RuntimeError('(psycopg.errors.UndefinedTable) relation "services" SELECT password FROM users')

        response = client.get("/explode")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"success": False, "message": "internal error", "results": None}
