"""Races and clock edges found in review, kept as tests."""

from __future__ import annotations

import threading
from datetime import timedelta

from medic.store import heartbeats as hb
from medic.store import services as svc
from medic.worker.evaluate import evaluate

SERVICE = {"service_name": "s", "alert_interval": 5, "threshold": 1, "team": "t", "priority": "p1",
           "runbook": None, "grace_period_seconds": 0}


def test_a_down_stamped_after_the_workers_now_is_not_a_recovery(engine, settings, clock):
    with engine.begin() as conn:
        svc.create(conn, {"heartbeat_name": "a", **SERVICE}, clock())
        hb.record(conn, [hb.Beat("a", "DOWN")], clock())
    clock.advance(seconds=1)
    assert evaluate(engine, settings, ["pagerduty"], clock()).opened
    clock.advance(seconds=10)
    worker_now = clock()
    with engine.begin() as conn:  # still DOWN, stamped by a web host whose clock runs 0.3 s ahead
        hb.record(conn, [hb.Beat("a", "DOWN")], worker_now + timedelta(milliseconds=300))
    assert not evaluate(engine, settings, ["pagerduty"], worker_now).closed


def test_a_heartbeat_racing_a_settings_change_is_not_overwritten(engine, settings, clock, monkeypatch):
    with engine.begin() as conn:
        svc.create(conn, {"heartbeat_name": "a", **SERVICE}, clock())
        hb.record(conn, [hb.Beat("a", "UP")], clock())
    clock.advance(seconds=10)
    real = svc.compute_deadline
    racer: list[threading.Thread] = []

    def down_heartbeat():
        with engine.begin() as other:
            hb.record(other, [hb.Beat("a", "DOWN")], clock())

    def compute_while_a_heartbeat_commits(conn, service, **kw):
        deadline = real(conn, service, **kw)
        racer.append(threading.Thread(target=down_heartbeat))
        racer[0].start()
        racer[0].join(timeout=0.5)  # it must wait for our transaction, not slip in before our write
        return deadline

    monkeypatch.setattr(svc, "compute_deadline", compute_while_a_heartbeat_commits)
    with engine.begin() as conn:
        svc.update_service(conn, svc.get_by_name(conn, "a"), {"grace_period_seconds": 30}, clock())
    monkeypatch.setattr(svc, "compute_deadline", real)
    racer[0].join(timeout=30)
    clock.advance(seconds=1)
    assert evaluate(engine, settings, ["pagerduty"], clock()).opened
