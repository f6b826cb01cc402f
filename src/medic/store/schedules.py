"""Cron services: their newest success, slot outcomes and the worker's slot sweep
(docs/schedules.md; the rules are core/schedule.py's)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence


from sqlalchemy import Connection, Row, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from medic.core import schedule
from medic.core.maintenance import Window, window_at
from medic.core.schedule import MET_OUTCOMES, SlotOutcome
from medic.store import gaps as outage_gaps
from medic.store.tables import service_slots, services

# A sweep gives at most this many slots of one service an outcome per cycle (a
# minutely job after a long outage catches up over a few cycles).
SLOTS_PER_SERVICE = 200
SERVICES_PER_SWEEP = 5000  # bounds a cycle (~0.6 s on PostgreSQL); alerting does not wait for it
UTC = timezone.utc


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


def _insert_ignore_returning(conn: Connection, rows: list[dict]) -> set[tuple[int, datetime]]:
    """Insert slot rows, skipping those already there; the (service_id, slot_at) inserted."""
    if not rows:
        return set()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(service_slots)
        .on_conflict_do_nothing(index_elements=["service_id", "slot_at"])
        .returning(service_slots.c.service_id, service_slots.c.slot_at)
    )
    found = conn.execute(statement, rows[0] if len(rows) == 1 else rows).all()
    return {(service_id, _utc(slot_at)) for service_id, slot_at in found}


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
    record_successes(conn, [service], at, outcome=SlotOutcome.TOO_LONG if too_long else None)


def record_successes(conn: Connection, rows: Sequence[Mapping[str, Any]], at: datetime, *,
                     outcome: SlotOutcome | None = None) -> None:
    """record_success for a batch of cron services, in three statements whatever their
    number: a heartbeat batch brings many services, and most of their slots are
    already met (a service that beats often meets one slot many times)."""
    if not rows:
        return
    ids = [row["service_id"] for row in rows]
    conn.execute(update(services).where(services.c.service_id.in_(ids)).values(last_success_at=at))
    slots = []
    for row in rows:
        cron = cron_of(row)
        slot = None if cron is None else schedule.slot_met_by(cron, at, row["grace_period_seconds"])
        if slot is not None:
            slots.append({"service_id": row["service_id"], "slot_at": slot,
                          "outcome": (outcome or schedule.met_outcome(slot, at)).value, "signal_at": at, "recorded_at": at})
    if slots:
        _record_met(conn, slots)


def _record_met(conn: Connection, slots: list[dict]) -> None:
    """Insert the slots a batch's successes met; one already there keeps its outcome,
    except that a success replaces an earlier failure of the same slot. One statement:
    most slots are already met (a service that beats often meets one slot many times)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(service_slots)
    new, old = statement.excluded.outcome, service_slots.c.outcome
    # or_ of equalities, not in_: an expanding IN cannot run in a batch of rows
    statement = statement.on_conflict_do_update(
        index_elements=["service_id", "slot_at"],
        set_={"outcome": new, "signal_at": statement.excluded.signal_at},
        where=and_(or_(old == SlotOutcome.FAILED.value, old == SlotOutcome.TOO_FAST.value),
                   or_(*(new == met.value for met in sorted(MET_OUTCOMES)))),
    )
    conn.execute(statement, slots[0] if len(slots) == 1 else slots)


def sweep(
    conn: Connection, now: datetime, windows: Iterable[Window] = (), *, gaps: bool = False,
    through: float | None = None,
) -> dict[tuple[str, str], int]:
    """Give every slot that closed by ``now`` without a signal the outcome ``missed``
    (``unknown`` if one of Medic's own outages overlapped it, with ``gaps``: core/gaps.py)
    and move each service's cursor on. ``through`` (Unix time): slots closing after it
    wait, as pages do while no web process could receive (worker/evaluate.py).
    Returns how many slots closed, by (team, outcome): each slot is counted once, by
    the worker whose cursor move won.

    Reads only services whose cursor slot closed (index on slot_check_at), in a
    few statements whatever their number. PostgreSQL locks the rows it takes
    (SKIP LOCKED: a second worker takes others); elsewhere each cursor moves by
    compare-and-set. Either way no slot is judged twice (the primary key would
    refuse it too). Muted and deactivated services' slots are recorded as well;
    whether anyone is paged is the alert's business. A slot whose time fell in a
    maintenance window of ``windows`` is recorded with that window's id, whatever
    its outcome.
    """
    windows = list(windows)
    postgres = conn.dialect.name == "postgresql"
    recorded_at = now
    if through is not None and through < now.timestamp():
        now = datetime.fromtimestamp(through, UTC)  # judge slots as of then; record them as of now
    query = (
        select(services.c.service_id, services.c.cron, services.c.timezone, services.c.grace_period_seconds,
               services.c.next_slot_at, services.c.slot_check_at, services.c.team, services.c.labels)
        .where(services.c.slot_check_at <= now.timestamp(), services.c.cron.is_not(None))
        .order_by(services.c.slot_check_at)
        .limit(SERVICES_PER_SWEEP)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True, of=services)
    plans = []
    for service in conn.execute(query):
        zone = service.timezone or schedule.DEFAULT_TIMEZONE
        grace = timedelta(seconds=service.grace_period_seconds)
        slot, closed = service.next_slot_at, []
        while slot is not None and slot + grace <= now and len(closed) < SLOTS_PER_SERVICE:
            closed.append(slot)
            slot = schedule.next_slot(schedule.Cron(service.cron, zone), slot)  # cached by expression, zone, minute
        plans.append((service, closed, {
            "sid": service.service_id, "old": service.slot_check_at, "nxt": slot,
            "chk": None if slot is None else (slot + grace).timestamp(),
        }))
    if not plans:
        return {}
    move = (
        update(services)
        .where(services.c.service_id == bindparam("sid"), services.c.slot_check_at == bindparam("old"))
        .values(next_slot_at=bindparam("nxt"), slot_check_at=bindparam("chk"))
    )
    if postgres:  # the rows are locked: every move wins
        conn.execute(move, [cursor for _, _, cursor in plans])
        won = plans
    else:
        won = [plan for plan in plans if conn.execute(move, plan[2]).rowcount]
    team_of = {service.service_id: service.team for service, _, _ in won}
    grace_of = {service.service_id: service.grace_period_seconds for service, _, _ in won}
    pairs = [(service.service_id, at) for service, closed, _ in won for at in closed]
    noted: dict[tuple[int, datetime], int] = {}
    if windows:
        for service, closed, _ in won:
            for at in closed:
                found = window_at(windows, service.service_id, service.team, service.labels, at)
                if found is not None:
                    noted[(service.service_id, at)] = found[0].window_id
    outage = outage_gaps.ended_since(conn, min(at for _, at in pairs)) if gaps and pairs else []
    inserted: set[tuple[int, datetime]] = set()
    unmet = {(sid, _utc(at)): schedule.unmet_outcome(_utc(at), grace_of[sid], outage).value for sid, at in pairs}
    for chunk in _chunks(pairs):
        rows = [{"service_id": sid, "slot_at": at, "outcome": unmet[(sid, _utc(at))], "signal_at": None,
                 "recorded_at": recorded_at, "maintenance_id": noted.get((sid, at))} for sid, at in chunk]
        # The pairs come back as a set: no sort_by_parameter_order, which with ON CONFLICT
        # would send one statement per row.
        inserted |= _insert_ignore_returning(conn, rows)
    closed_by: dict[tuple[str, str], int] = {}
    for key in inserted:
        counted = (team_of[key[0]], unmet[key])
        closed_by[counted] = closed_by.get(counted, 0) + 1
    decided = [(sid, at) for sid, at in pairs if (sid, _utc(at)) not in inserted]
    in_window = [{"sid": sid, "slot": at, "wid": noted[(sid, at)]} for sid, at in decided if (sid, at) in noted]
    if in_window:  # slots a signal decided, noted now they closed
        conn.execute(
            update(service_slots)
            .where(service_slots.c.service_id == bindparam("sid"), service_slots.c.slot_at == bindparam("slot"))
            .values(maintenance_id=bindparam("wid")),
            in_window,
        )
    for chunk in _chunks(decided):  # slots a signal gave their outcome: counted now they closed
        for sid, outcome in conn.execute(
            select(service_slots.c.service_id, service_slots.c.outcome)
            .where(tuple_(service_slots.c.service_id, service_slots.c.slot_at).in_(chunk))
        ):
            closed_by[(team_of[sid], outcome)] = closed_by.get((team_of[sid], outcome), 0) + 1
    return closed_by


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _chunks(items: list, size: int = 400):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def list_slots(conn: Connection, service_id: int, start: datetime, end: datetime, limit: int) -> list[Row]:
    return list(conn.execute(
        select(service_slots.c.slot_at, service_slots.c.outcome, service_slots.c.signal_at,
               service_slots.c.maintenance_id)
        .where(service_slots.c.service_id == service_id, service_slots.c.slot_at >= start,
               service_slots.c.slot_at < end)
        .order_by(service_slots.c.slot_at)
        .limit(limit)
    ))


def on_time_ratio(conn: Connection, service_id: int, now: datetime, days: int) -> float | None:
    """The share of slots of the last ``days`` (and any met early) that were on time; None without slots.
    Slots in a maintenance window are left out: a planned outage is no lateness."""
    counts = dict(conn.execute(
        select(service_slots.c.outcome, func.count())
        .where(service_slots.c.service_id == service_id, service_slots.c.slot_at >= now - timedelta(days=days),
               service_slots.c.maintenance_id.is_(None))
        .group_by(service_slots.c.outcome)
    ).all())
    total = sum(counts.values())
    return None if not total else round(counts.get(SlotOutcome.ON_TIME.value, 0) / total, 4)
