"""A cron service that beats often meets one slot many times: on PostgreSQL's batch
path, a success after a success in the same slot is stored by the batch statement
alone, with no second transaction (core/deadline.cron_success_moves_nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from medic.core import deadline, schedule
from medic.ingest import transactions
from medic.store import heartbeats as hb
from medic.store import services as svc
from medic.store.tables import service_slots

CRON = schedule.Cron("*/10 * * * *", "Europe/Berlin")
T = datetime(2026, 1, 5, 12, 2, tzinfo=timezone.utc)  # with a 60 s grace it meets the 12:10 slot


def moves_nothing(at, previous_success, **changes):
    given = {"status": "UP", "at": at, "previous_status": "UP", "previous_success": previous_success,
             "changed": T - timedelta(days=1), "max_duration_seconds": None, **changes}
    return deadline.cron_success_moves_nothing(CRON, 60, **given)


def test_only_a_success_after_a_success_of_the_same_slot_moves_nothing():
    assert moves_nothing(T + timedelta(minutes=5), T)  # both meet 12:10
    assert not moves_nothing(T + timedelta(minutes=10), T)  # 12:12 meets 12:20: a new slot
    assert not moves_nothing(T + timedelta(minutes=5), T, previous_status="DOWN")  # after a failure
    assert not moves_nothing(T + timedelta(minutes=5), T, status="DOWN")
    assert not moves_nothing(T + timedelta(minutes=5), None)
    assert not moves_nothing(T + timedelta(minutes=5), T, changed=T + timedelta(minutes=2))  # schedule changed since
    assert not moves_nothing(T + timedelta(minutes=5), T, max_duration_seconds=60)
    assert not moves_nothing(T + timedelta(minutes=5), T, failures_to_open=2)


def test_a_second_success_in_a_slot_is_stored_without_a_recount(engine, backend, clock):
    if backend != "postgresql":
        pytest.skip("the autocommit batch path is PostgreSQL's")
    clock.set(T - timedelta(minutes=5))
    with engine.begin() as conn:
        row, _ = svc.create(conn, {"heartbeat_name": "svc", "service_name": "s", "alert_interval": 10,
                                   "cron": CRON.expression, "timezone": CRON.timezone,
                                   "grace_period_seconds": 60, "threshold": 1, "team": "t",
                                   "priority": "p3"}, clock())
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))

    def send() -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            [result] = transactions.write_autocommit(conn, [hb.Beat("svc", "UP")], clock())
        assert isinstance(result, hb.Stored)

    def stored():
        with engine.connect() as conn:
            service = svc.get_by_id(conn, row.service_id)
            slots = conn.execute(select(service_slots.c.slot_at, service_slots.c.outcome)).all()
        return service, [(at.astimezone(timezone.utc), outcome) for at, outcome in slots]

    clock.set(T)
    send()  # the first success of the 12:10 slot: recounted, its slot recorded
    first, slots = stored()
    assert slots == [(datetime(2026, 1, 5, 12, 10, tzinfo=timezone.utc), "on_time")]
    seen.clear()
    clock.set(T + timedelta(minutes=5))
    send()  # the same slot again
    sent = list(seen)
    second, slots = stored()
    assert [s for s in sent if "service_slots" in s or "FOR UPDATE" in s] == []  # no second transaction
    assert second.deadline == first.deadline and second.last_success_at == clock()
    assert slots == [(datetime(2026, 1, 5, 12, 10, tzinfo=timezone.utc), "on_time")]
    clock.set(T + timedelta(minutes=10))
    send()  # 12:12 meets the 12:20 slot: recounted again
    third, slots = stored()
    assert third.deadline > second.deadline and len(slots) == 2
