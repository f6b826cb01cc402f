"""The original Medic's clients and CLI, call for call, against this Medic.

Written from their documented behaviour (linq-team/medic at 8238f85): the Go client
always sends `service_name` ("" when unset), the CLI reads `results[0]` of
GET /service/<name> and compares `active`, `muted` and `down` with `== 1`, and job
signals may close a run whose start never arrived. Real HTTP, every backend.
"""

from __future__ import annotations

import json

import httpx
import pytest

from medic.web import create_app
from tests.fakes.providers import provider_env
from tests.support.server import LiveServer


@pytest.fixture
def settings_env(pagerduty, slack) -> dict[str, str]:
    return {**provider_env(pagerduty, slack), "NOTIFY_TIMEOUT_SECONDS": "2"}


@pytest.fixture(params=["fast path", "flask route"])
def heartbeat_api(request, settings, engine, clock):
    """POST /heartbeat through the plain-WSGI fast path, and through Flask alone."""
    app = create_app(settings, engine=engine, clock=clock, fast_heartbeats=request.param == "fast path")
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


def register(api, name: str = "billing-cron", **extra) -> None:
    body = {"heartbeat_name": name, "service_name": "billing", "alert_interval": 5, **extra}
    response = api.post("/service", json=body)
    assert response.status_code == 201, response.text


def is_flag(value: object, expected: int) -> bool:
    """What a Go `int` field or a JavaScript `=== 1` needs: an integer, not a boolean."""
    return type(value) is int and value == expected


# --- the Go client's heartbeat ------------------------------------------------


@pytest.mark.parametrize("service_name", ["", "   "])
def test_go_client_heartbeat_without_a_service_is_stored(heartbeat_api, service_name):
    register(heartbeat_api)
    # Go's json.Encoder: the struct's three fields, always, and a trailing newline.
    raw = json.dumps({"heartbeat_name": "billing-cron", "service_name": service_name, "status": "UP"}) + "\n"
    response = heartbeat_api.post("/heartbeat", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    stored = heartbeat_api.get("/heartbeat", params={"heartbeat_name": "billing-cron"}).json()["results"]
    assert [(h["status"], h["service_name"]) for h in stored] == [("UP", "billing")]


def test_python_and_ruby_clients_null_service_name_is_stored(heartbeat_api):
    register(heartbeat_api)
    response = heartbeat_api.post("/heartbeat", json={"heartbeat_name": "billing-cron", "service_name": None, "status": "UP"})
    assert response.status_code == 201, response.text


def test_empty_heartbeat_name_is_still_refused(heartbeat_api):
    response = heartbeat_api.post("/heartbeat", json={"heartbeat_name": "", "service_name": "", "status": "UP"})
    assert response.status_code == 400
    assert "heartbeat_name" in response.json()["message"]


# --- the CLI ------------------------------------------------------------------


def test_cli_service_get_reads_a_one_element_list(api):
    register(api)
    reply = api.get("/service/BILLING-cron").json()  # names stay case-insensitive
    assert reply["success"] is True
    services = reply["results"]
    assert isinstance(services, list) and len(services) == 1
    service = services[0]
    assert service["heartbeat_name"] == "billing-cron" and service["service_name"] == "billing"
    assert is_flag(service["active"], 1) and is_flag(service["muted"], 0) and is_flag(service["down"], 0)
    assert service["alert_interval"] == 5 and service["threshold"] == 1


def test_cli_service_get_of_an_unknown_name_is_a_json_404(api):
    response = api.get("/service/ghost")
    assert response.status_code == 404
    assert response.json()["success"] is False and "ghost" in response.json()["message"]


def test_cli_service_list_mute_and_unmute(api):
    register(api)
    register(api, "search-cron")
    listed = api.get("/service", params={"active": 1}).json()["results"]
    assert sorted(s["heartbeat_name"] for s in listed) == ["billing-cron", "search-cron"]
    assert all(is_flag(s["active"], 1) and is_flag(s["muted"], 0) and is_flag(s["down"], 0) for s in listed)

    muted = api.post("/service/billing-cron", json={"muted": 1})
    assert muted.status_code == 200 and muted.json()["success"] is True
    assert is_flag(muted.json()["results"]["muted"], 1)
    [service] = api.get("/service/billing-cron").json()["results"]
    assert is_flag(service["muted"], 1)

    assert api.post("/service/billing-cron", json={"muted": 0}).json()["success"] is True
    [service] = api.get("/service/billing-cron").json()["results"]
    assert is_flag(service["muted"], 0)

    assert api.post("/service/search-cron", json={"active": 0}).json()["success"] is True
    [inactive] = api.get("/service", params={"active": 0}).json()["results"]
    assert inactive["heartbeat_name"] == "search-cron" and is_flag(inactive["active"], 0)


def test_cli_register_answers_integer_flags(api):
    response = api.post("/service", json={"heartbeat_name": "billing-cron", "service_name": "billing", "alert_interval": 5})
    assert response.status_code == 201
    service = response.json()["results"]
    assert is_flag(service["active"], 1) and is_flag(service["muted"], 0) and is_flag(service["down"], 0)


def test_cli_heartbeat_send_and_list(api, clock):
    register(api)
    for status in ("UP", "DOWN"):
        sent = api.post("/heartbeat", json={"heartbeat_name": "billing-cron", "status": status})
        assert sent.json()["success"] is True
        clock.advance(seconds=1)
    listed = api.get("/heartbeat", params={"maxCount": 50, "heartbeat_name": "billing-cron"}).json()["results"]
    assert [h["status"] for h in listed] == ["DOWN", "UP"]
    assert {"heartbeat_id", "heartbeat_name", "service_name", "time", "status"} <= set(listed[0])


def test_cli_alerts_list_answers_integer_active(api, worker, clock):
    register(api, alert_interval=1)
    api.post("/heartbeat", json={"heartbeat_name": "billing-cron", "status": "DOWN"})
    clock.advance(seconds=1)
    worker.run_once()
    [alert] = api.get("/alerts", params={"active": 1}).json()["results"]
    assert is_flag(alert["active"], 1)
    assert alert["alert_name"] and alert["created_date"] and alert["closed_date"] is None
    [service] = api.get("/service/billing-cron").json()["results"]
    assert is_flag(service["down"], 1)


def test_cli_health_reads_a_top_level_status(api):
    reply = api.get("/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "healthy"  # `medic-cli health` exits 0 on "healthy" only
    assert body["success"] is True and body["results"]["database"]["status"] == "up"


# --- job signals ----------------------------------------------------------------


def test_complete_naming_a_run_whose_start_was_lost_is_stored(api):
    register(api, "nightly", alert_interval=60)
    response = api.post("/v2/heartbeat/nightly/complete", json={"run_id": "lost-start"})
    assert response.status_code == 201, response.text
    run = response.json()["results"]
    assert run["run_id"] == "lost-start" and run["state"] == "succeeded"
    assert run["started_at"] is None and run["duration_seconds"] is None
    [listed] = api.get("/v2/services/nightly/runs").json()["results"]
    assert listed["run_id"] == "lost-start"
    # A retry of the same signal is a replay, not a second run.
    again = api.post("/v2/heartbeat/nightly/complete", json={"run_id": "lost-start"})
    assert again.status_code == 200
    assert len(api.get("/v2/services/nightly/runs").json()["results"]) == 1


def test_fail_naming_a_run_whose_start_was_lost_pages(api, worker, clock, pagerduty):
    register(api, "nightly", alert_interval=60)
    service_id = api.get("/service/nightly").json()["results"][0]["service_id"]
    # The original clients address jobs by numeric service_id.
    response = api.post(f"/v2/heartbeat/{service_id}/fail", json={"run_id": "lost-start", "message": "exit 3"})
    assert response.status_code == 201, response.text
    assert response.json()["results"]["state"] == "failed"
    clock.advance(seconds=1)
    worker.run_once()
    assert [r.json["event_action"] for r in pagerduty.requests] == ["trigger"]
    [alert] = api.get("/alerts", params={"active": 1}).json()["results"]
    assert alert["open_reason"] == "job_failed"


def test_stats_answer_the_original_keys(api, clock):
    register(api, "nightly", alert_interval=60)
    service_id = api.get("/service/nightly").json()["results"][0]["service_id"]
    original_keys = {
        "run_count", "avg_duration_ms", "p50_duration_ms", "p95_duration_ms",
        "p99_duration_ms", "min_duration_ms", "max_duration_ms",
    }
    for seconds in (1, 2, 3, 4):
        api.post(f"/v2/heartbeat/{service_id}/start", json={"run_id": f"r{seconds}"})
        clock.advance(seconds=seconds)
        api.post(f"/v2/heartbeat/{service_id}/complete", json={"run_id": f"r{seconds}"})
    stats = api.get(f"/v2/services/{service_id}/stats").json()["results"]
    assert original_keys <= set(stats)
    assert stats["run_count"] == 4
    assert all(stats[key] is None for key in original_keys - {"run_count"})  # below 5 runs
    assert stats["count"] == 4 and stats["avg"] == 2.5  # Medic's own keys stay

    api.post(f"/v2/heartbeat/{service_id}/start", json={"run_id": "r10"})
    clock.advance(seconds=10)
    api.post(f"/v2/heartbeat/{service_id}/complete", json={"run_id": "r10"})
    stats = api.get(f"/v2/services/{service_id}/stats").json()["results"]
    assert stats["run_count"] == 5
    assert stats["min_duration_ms"] == 1000 and stats["max_duration_ms"] == 10000
    assert stats["p50_duration_ms"] == 3000 and stats["avg_duration_ms"] == 4000.0
    assert stats["p95_duration_ms"] == 8800 and stats["p99_duration_ms"] == 9760
    assert all(type(stats[key]) is int for key in ("min_duration_ms", "max_duration_ms", "p50_duration_ms"))
