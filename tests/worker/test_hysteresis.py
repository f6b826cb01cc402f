"""Hysteresis end to end (docs/alerting.md, "Hysteresis"): failures_to_open and
successes_to_close on interval services, through the API, the worker and the
stand-in providers, with the injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest


def pages(pagerduty) -> list[str]:
    return [request.json["event_action"] for request in pagerduty.requests]


def test_defaults_are_one_and_shown_in_replies(medic):
    service = medic.register()
    assert service["failures_to_open"] == 1 and service["successes_to_close"] == 1
    assert service["flapping"] is False and service["flapping_since"] is None
    changed = medic.update(failures_to_open=3, successes_to_close=2)
    assert changed["failures_to_open"] == 3 and changed["successes_to_close"] == 2
    assert medic.service()["failures_to_open"] == 3


def test_three_windows_of_silence_open_with_failures_to_open_3(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1, failures_to_open=3)
    medic.beat()
    for _ in range(2):  # two missed windows: not yet
        clock.advance(seconds=61)
        worker.run_once()
    clock.advance(seconds=57)  # 2:59 after the beat
    worker.run_once()
    assert pages(pagerduty) == []
    clock.advance(seconds=2)  # 3:01: the third window ended without a heartbeat
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert medic.alerts(active="true")[0]["open_reason"] == "missed_heartbeats"
    medic.beat()  # successes_to_close 1: the first heartbeat resolves
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_a_new_service_gets_failures_to_open_windows(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1, failures_to_open=2)
    clock.advance(seconds=119)
    worker.run_once()
    assert pages(pagerduty) == []
    clock.advance(seconds=2)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert medic.alerts()[0]["open_reason"] == "never_reported"


def test_three_down_heartbeats_in_a_row_open(medic, worker, clock, pagerduty):
    medic.register(alert_interval=10, failures_to_open=3)
    medic.beat()
    for status in ("DOWN", "DOWN", "UP", "DOWN", "DOWN"):  # the UP starts the count again
        medic.beat(status=status)
        clock.advance(seconds=1)
        worker.run_once()
    assert pages(pagerduty) == []
    medic.beat(status="DOWN")
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert medic.alerts(active="true")[0]["open_reason"] == "reported_down"


def test_successes_to_close_2_needs_two_good_heartbeats_after_the_alert_opened(medic, worker, clock, pagerduty, slack):
    medic.register(alert_interval=10, successes_to_close=2)
    medic.beat()
    medic.beat()  # good heartbeats before the alert do not count towards closing it
    medic.beat(status="DOWN")
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]  # failures_to_open 1: at once
    clock.advance(seconds=1)
    medic.beat()
    worker.run_once()
    assert pages(pagerduty) == ["trigger"] and medic.service()["down"] == 1
    medic.beat(status="DOWN")  # breaks the run
    medic.beat()
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.advance(seconds=5)
    medic.beat(status="DEGRADED")  # UP and DEGRADED both count
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]
    assert medic.service()["down"] == 0
    [alert] = medic.alerts()
    assert alert["close_reason"] == "recovered"


def test_successes_to_close_after_silence(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1, successes_to_close=2)
    medic.beat()
    clock.advance(seconds=61)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.advance(seconds=1)
    medic.beat()
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.advance(seconds=20)
    medic.beat()
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_changing_the_settings_moves_the_deadline(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1)
    medic.beat()
    clock.advance(seconds=50)
    medic.update(failures_to_open=2)
    clock.advance(seconds=30)  # 1:20: past one window, within two
    worker.run_once()
    assert pages(pagerduty) == []
    medic.update(failures_to_open=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]


def test_failed_job_runs_in_a_row_open(medic, worker, clock, pagerduty, api):
    medic.register(alert_interval=60, failures_to_open=2)
    for action, run in (("start", "r1"), ("fail", "r1"), ("start", "r2")):
        assert api.post(f"/v2/heartbeat/svc-hb/{action}", json={"run_id": run}).status_code == 201
        clock.advance(seconds=1)
        worker.run_once()
    assert pages(pagerduty) == []
    assert api.post("/v2/heartbeat/svc-hb/fail", json={"run_id": "r2"}).status_code == 201
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]


@pytest.mark.parametrize("field", ["failures_to_open", "successes_to_close"])
@pytest.mark.parametrize("value", [0, 101, "3", None, 2.5, True])
def test_out_of_range_is_a_400_naming_the_field_and_changes_nothing(medic, api, field, value):
    response = api.post("/service", json={"heartbeat_name": "bad", "service_name": "svc", "alert_interval": 1,
                                          field: value})
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert api.get("/service/bad").status_code == 404
    medic.register()
    response = api.post("/service/svc-hb", json={field: value})
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert medic.service()[field] == 1


def test_two_workers_send_one_trigger_and_one_resolve_per_incident(medic, make_worker, clock, pagerduty):
    from collections import Counter

    from tests.worker.test_concurrency import run_together

    names = [f"svc-{i:02d}" for i in range(10)]
    for name in names:
        medic.register(name, alert_interval=1, failures_to_open=2, successes_to_close=2)
        medic.beat(name)
    workers = [make_worker(), make_worker()]
    clock.advance(seconds=61)
    run_together(workers, "run_once")
    assert pagerduty.requests == []
    clock.advance(seconds=60)
    run_together(workers, "run_once")
    for _ in range(2):
        for name in names:
            medic.beat(name)
        run_together(workers, "run_once")
    actions = Counter((r.json["dedup_key"], r.json["event_action"]) for r in pagerduty.requests)
    assert len({key for key, _ in actions}) == len(names)
    assert set(actions.values()) == {1} and len(actions) == 2 * len(names)
