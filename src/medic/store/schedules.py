"""Cron services: their newest success, slot outcomes and the worker's slot sweep
(docs/schedules.md; the rules are core/schedule.py's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import Connection, Row, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from medic.core import schedule
from medic.core.schedule import MET_OUTCOMES, SlotOutcome
from medic.store.tables import service_slots, services

# A sweep gives at most this many slots of one service an outcome per cycle (a
# minutely job after a long outage catches up over a few cycles).
SLOTS_PER_SERVICE = 200
SERVICES_PER_SWEEP = 5000


def cron_of(service: Mapping[str, Any]) -> schedule.Cron | None:
    if not service.get("cron"):
        return None
    return schedule.Cron(service["cron"], service.get("timezone") or schedule.DEFAULT_TIMEZONE)


def cursor_values(service: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The slot cursor for a (new or changed) schedule: slots before ``now`` are not judged."""
    cron = cron_of(service)
    if cron is None:
        return {"next_slot_at": None, "slot_check_at": None}
    slot = schedule.next_slot(cron, now)
    return {
        "next_slot_at": slot,
        "slot_check_at": None if slot is None else slot.timestamp() + service["grace_period_seconds"],
    }


def _insert_ignore(conn: Connection, rows: list[dict]) -> int:
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(service_slots)
        .on_conflict_do_nothing(index_elements=["service_id", "slot_at"])
        .returning(service_slots.c.slot_at)
    )
    # Counted from RETURNING: an executemany's rowcount is not reliable on every driver.
    return len(conn.execute(statement, rows[0] if len(rows) == 1 else rows).all())


def record_outcome(
    conn: Connection, service: Mapping[str, Any], signal_at: datetime, outcome: SlotOutcome | None
) -> datetime | None:
    """Give the slot a signal at ``signal_at`` concerns its outcome (``None``: met, on time
    or late by the signal's time). A success replaces an earlier failure of the same slot.
    Returns the slot."""
    cron = cron_of(service)
    if cron is None:
        return None
    slot = schedule.slot_met_by(cron, signal_at, service["grace_period_seconds"])
    if slot is None:
        return None
    outcome = outcome or schedule.met_outcome(slot, signal_at)
    row = {"service_id": service["service_id"], "slot_at": slot, "outcome": outcome.value,
           "signal_at": signal_at, "recorded_at": signal_at}
    if not _insert_ignore(conn, [row]) and outcome in MET_OUTCOMES:
        conn.execute(
            update(service_slots)
            .where(
                service_slots.c.service_id == service["service_id"],
                service_slots.c.slot_at == slot,
                service_slots.c.outcome.in_([SlotOutcome.FAILED.value, SlotOutcome.TOO_FAST.value]),
            )
            .values(outcome=outcome.value, signal_at=signal_at)
        )
    return slot


def record_success(conn: Connection, service: Mapping[str, Any], at: datetime, *, too_long: bool = False) -> None:
    """A success of a cron service: its newest success time, and its slot met (or
    ``too_long``: a run that finished, but after its max_runtime)."""
    conn.execute(update(services).where(services.c.service_id == service["service_id"]).values(last_success_at=at))
    record_outcome(conn, service, at, SlotOutcome.TOO_LONG if too_long else None)


def sweep(conn: Connection, now: datetime) -> dict[tuple[str, str], int]:
    """Give every slot that closed by ``now`` without a signal the outcome ``missed``
    and move each service's cursor on. Returns how many slots closed, by (team,
    outcome): each slot is counted once, by the worker whose cursor move won.

    Reads only services whose cursor slot closed (index on slot_check_at). The
    cursor moves by compare-and-set, so two workers never record a slot twice
    (and the primary key would refuse it anyway). Muted and deactivated services'
    slots are recorded too; whether anyone is paged is the alert's business.
    """
    due = conn.execute(
        select(services.c.service_id, services.c.cron, services.c.timezone, services.c.grace_period_seconds,
               services.c.next_slot_at, services.c.slot_check_at, services.c.team)
        .where(services.c.slot_check_at <= now.timestamp(), services.c.cron.is_not(None))
        .order_by(services.c.slot_check_at)
        .limit(SERVICES_PER_SWEEP)
    ).all()
    closed_by: dict[tuple[str, str], int] = {}
    for service in due:
        cron = cron_of(service._mapping)
        grace = timedelta(seconds=service.grace_period_seconds)
        slot, closed = service.next_slot_at, []
        while slot is not None and slot + grace <= now and len(closed) < SLOTS_PER_SERVICE:
            closed.append(slot)
            slot = schedule.next_slot(cron, slot)
        moved = conn.execute(
            update(services)
            .where(services.c.service_id == service.service_id, services.c.slot_check_at == service.slot_check_at)
            .values(next_slot_at=slot, slot_check_at=None if slot is None else (slot + grace).timestamp())
        ).rowcount
        if not moved or not closed:
            continue  # another worker, or a schedule change, moved it first
        missed = _insert_ignore(conn, [
            {"service_id": service.service_id, "slot_at": at, "outcome": SlotOutcome.MISSED.value,
             "signal_at": None, "recorded_at": now}
            for at in closed
        ])
        if missed:
            key = (service.team, SlotOutcome.MISSED.value)
            closed_by[key] = closed_by.get(key, 0) + missed
        if missed < len(closed):
            for outcome, count in conn.execute(
                select(service_slots.c.outcome, func.count())
                .where(service_slots.c.service_id == service.service_id, service_slots.c.slot_at.in_(closed),
                       service_slots.c.outcome != SlotOutcome.MISSED.value)
                .group_by(service_slots.c.outcome)
            ):
                closed_by[(service.team, outcome)] = closed_by.get((service.team, outcome), 0) + count
    return closed_by


def list_slots(conn: Connection, service_id: int, start: datetime, end: datetime, limit: int) -> list[Row]:
    return list(conn.execute(
        select(service_slots.c.slot_at, service_slots.c.outcome, service_slots.c.signal_at)
        .where(service_slots.c.service_id == service_id, service_slots.c.slot_at >= start,
               service_slots.c.slot_at < end)
        .order_by(service_slots.c.slot_at)
        .limit(limit)
    ))


def on_time_ratio(conn: Connection, service_id: int, now: datetime, days: int) -> float | None:
    """The share of slots of the last ``days`` (and any met early) that were on time; None without slots."""
    counts = dict(conn.execute(
        select(service_slots.c.outcome, func.count())
        .where(service_slots.c.service_id == service_id, service_slots.c.slot_at >= now - timedelta(days=days))
        .group_by(service_slots.c.outcome)
    ).all())
    total = sum(counts.values())
    return None if not total else round(counts.get(SlotOutcome.ON_TIME.value, 0) / total, 4)
