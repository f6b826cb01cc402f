"""Hysteresis on cron services (docs/alerting.md, "Hysteresis"): failures_to_open
counts missed or failed slots in a row, successes_to_close met slots after the alert
opened; injected clock, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc
NIGHTLY = {"cron": "0 3 * * *", "timezone": "Europe/Berlin", "grace": 600}  # 02:00 UTC in winter


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def pages(pagerduty) -> list[str]:
    return [request.json["event_action"] for request in pagerduty.requests]


def test_three_missed_slots_open_and_two_met_slots_close(svc, worker, clock, pagerduty):
    svc.register(schedule=NIGHTLY, failures_to_open=3, successes_to_close=2)
    for day in (6, 7):
        clock.set(at(2026, 1, day, 2, 10))  # the slot's grace is over: missed
        worker.run_once()
    clock.set(at(2026, 1, 8, 2, 9, 59))
    worker.run_once()
    assert pages(pagerduty) == []
    clock.set(at(2026, 1, 8, 2, 10))  # the third missed slot in a row
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert svc.alerts(active="true")[0]["open_reason"] == "missed_slot"
    assert [outcome for _, outcome in svc.slots(**{"from": "2026-01-05T00:00:00Z"})] == ["missed"] * 3

    clock.set(at(2026, 1, 9, 1, 58))
    svc.beat()  # one met slot: still open
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.set(at(2026, 1, 10, 1, 59))
    svc.beat()  # the second met slot in a row closes it
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_a_missed_slot_between_met_slots_starts_the_count_again(svc, worker, clock, pagerduty):
    svc.register(schedule=NIGHTLY, successes_to_close=2)
    clock.set(at(2026, 1, 6, 2, 10))
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.set(at(2026, 1, 7, 1, 58))
    svc.beat()
    worker.run_once()
    clock.set(at(2026, 1, 8, 2, 10))  # missed
    worker.run_once()
    clock.set(at(2026, 1, 9, 1, 58))
    svc.beat()
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    clock.set(at(2026, 1, 10, 1, 58))
    svc.beat()
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]


def test_a_failed_run_and_a_missed_slot_are_two_failures(svc, worker, clock, pagerduty):
    svc.register(schedule=NIGHTLY, failures_to_open=2)
    clock.set(at(2026, 1, 6, 2, 1))
    svc.signal("fail")
    worker.run_once()
    assert pages(pagerduty) == []  # one failed slot
    clock.set(at(2026, 1, 7, 2, 9))
    worker.run_once()
    assert pages(pagerduty) == []
    clock.set(at(2026, 1, 7, 2, 10))  # and a missed one
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]


def test_two_failed_runs_in_a_row_open_at_once(svc, worker, clock, pagerduty):
    svc.register(schedule=NIGHTLY, failures_to_open=2)
    clock.set(at(2026, 1, 6, 2, 1))
    svc.signal("fail")
    worker.run_once()
    clock.set(at(2026, 1, 7, 2, 1))
    svc.signal("fail")
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert svc.alerts(active="true")[0]["open_reason"] == "job_failed"
