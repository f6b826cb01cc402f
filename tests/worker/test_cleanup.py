"""Cleanup deletes only what is past retention."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from medic.core.gaps import Gap, GapCause
from medic.store import gaps
from medic.store.tables import heartbeat_events, notifications, outage_gaps
from medic.worker.cleanup import run_cleanup


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_cleanup_deletes_only_rows_older_than_retention(medic, worker, clock, engine, settings, pagerduty):
    medic.register(alert_interval=1)
    for _ in range(7):
        medic.beat()
    clock.advance(minutes=2)
    worker.run_once()  # an alert with delivered triggers
    medic.beat()
    worker.run_once()  # resolved; its notifications are finished
    clock.advance(days=29)
    for _ in range(3):
        medic.beat()
    assert count(engine, heartbeat_events) == 11
    finished = count(engine, notifications)
    assert finished == 6

    clock.advance(days=1, minutes=1)
    deleted = run_cleanup(engine, settings, clock=clock, batch_size=3)  # several batches
    assert deleted == {"heartbeat_events": 8, "notifications": 6, "job_runs": 0, "service_slots": 0,
                       "maintenance_windows": 0, "outage_gaps": 0}
    assert count(engine, heartbeat_events) == 3
    assert count(engine, notifications) == 0
    assert medic.service()["last_status"] == "UP"
    health = medic.api.get("/metrics").text
    assert "medic_cleanup_last_success_timestamp_seconds" in health


def test_cleanup_keeps_notifications_of_open_alerts(medic, worker, clock, engine, settings):
    medic.register(alert_interval=1)
    clock.advance(minutes=2)
    worker.run_once()
    clock.advance(days=40)
    run_cleanup(engine, settings, clock=clock)
    assert count(engine, notifications) == 3  # the Slack thread of a still-open alert survives


def test_cleanup_deletes_outages_that_ended_before_retention(clock, engine, settings):
    start = clock()
    with engine.begin() as conn:
        for days in (0, 29, 31):  # ended 31, 2 and 0 days before the cleanup
            began = start + timedelta(days=days)
            assert gaps.record(conn, Gap(began, began + timedelta(minutes=5), GapCause.WEB), began)
    clock.advance(days=31, minutes=10)
    assert run_cleanup(engine, settings, clock=clock)["outage_gaps"] == 1
    with engine.connect() as conn:
        ended = sorted(conn.execute(select(outage_gaps.c.ended_at)).scalars())
    assert ended == [start + timedelta(days=29, minutes=5), start + timedelta(days=31, minutes=5)]
