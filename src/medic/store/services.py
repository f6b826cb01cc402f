"""Queries on the services table."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from medic.core import deadline
from medic.core.jobs import RunState
from medic.core.model import GOOD_STATUSES
from medic.core.transitions import mute_end
from medic.store import hysteresis, schedules
from medic.store.tables import heartbeat_events, job_runs, services


def _by_name(name: str):
    return func.lower(services.c.heartbeat_name) == name.lower()


def get_by_name(conn: Connection, heartbeat_name: str) -> Row | None:
    return conn.execute(select(services).where(_by_name(heartbeat_name))).first()


def get_by_id(conn: Connection, service_id: int) -> Row | None:
    return conn.execute(select(services).where(services.c.service_id == service_id)).first()


def list_services(
    conn: Connection,
    *,
    service_name: str | None = None,
    active: bool | None = None,
    limit: int = 1000,
    offset: int = 0,
    labels: Mapping[str, str] | None = None,
) -> list[Row]:
    query = select(services).order_by(services.c.service_id).limit(limit).offset(offset)
    for key, value in (labels or {}).items():  # every label must match, as in a route
        query = query.where(services.c.labels[key].as_string() == value)
    if service_name is not None:
        query = query.where(services.c.service_name == service_name)
    if active is not None:
        query = query.where(services.c.active == active)
    return list(conn.execute(query))


def create(conn: Connection, values: dict[str, Any], now: datetime) -> tuple[Row, bool]:
    """Insert a service; returns (row, created). An existing name returns that row.

    The unique index on lower(heartbeat_name) settles races between replicas.
    """
    existing = get_by_name(conn, values["heartbeat_name"])
    if existing is not None:
        return existing, False
    first = deadline.next_due(settings_of({**values, "date_added": now}), deadline.Signals())
    row_values = {
        **values,
        **schedules.cursor_values(values, now),
        "active": True,
        "muted": False,
        "down": False,
        "date_added": now,
        "date_modified": now,
        "deadline": first,
    }
    try:
        with conn.begin_nested():
            service_id = conn.execute(insert(services).values(**row_values).returning(services.c.service_id)).scalar_one()
    except IntegrityError:
        existing = get_by_name(conn, values["heartbeat_name"])
        if existing is None:
            raise
        return existing, False
    return get_by_id(conn, service_id), True


# Settings that change how the deadline is computed.
_DEADLINE_INPUTS = frozenset({"alert_interval", "threshold", "grace_period_seconds", "max_duration_seconds",
                              "cron", "timezone", "start_margin_seconds", "failures_to_open", "successes_to_close"})
# Settings that change which slots a cron service expects.
_SCHEDULE_INPUTS = frozenset({"cron", "timezone"})


def update_service(conn: Connection, row: Row, changes: dict[str, Any], now: datetime, *,
                   auto_unmute_hours: float | None = None) -> Row:
    """Apply a partial update; keeps date_muted, muted_until and the deadline consistent.

    ``changes`` may hold muted_until (an end already resolved by core.transitions.mute_end);
    a mute without one lifts ``auto_unmute_hours`` from now (None: left null, so the
    worker lifts it AUTO_UNMUTE_HOURS after date_muted)."""
    # Write first: the row lock (PostgreSQL) or write lock (SQLite) keeps a
    # heartbeat from committing between the recount below and our write.
    conn.execute(update(services).where(services.c.service_id == row.service_id).values(date_modified=now))
    row = get_by_id(conn, row.service_id)
    values = dict(changes)
    if "muted" in values and values["muted"] != row.muted:
        values["date_muted"] = now if values["muted"] else None
    if values.get("muted") is False:
        values["muted_until"] = None
    elif values.get("muted") and not row.muted and "muted_until" not in values and auto_unmute_hours:
        values["muted_until"] = mute_end(now, auto_unmute_hours)
    reactivated = bool(values.get("active")) and not row.active
    if values.keys() & {"team", "labels"}:
        # A maintenance window's scope may no longer hold it: judged again next cycle.
        values.update(suppressed_until=None, maintenance_id=None)
    merged = {**row._mapping, **values}
    became_cron = bool(merged.get("cron")) and not row.cron
    if became_cron:
        # From interval to cron: the newest good heartbeat is the newest success so far.
        newest = newest_good_times(conn, row.service_id, 1)
        values["last_success_at"] = merged["last_success_at"] = newest[0] if newest else None
    new_schedule = bool(values.keys() & _SCHEDULE_INPUTS) and bool(merged.get("cron") or row.cron)
    if new_schedule:
        values.update(schedules.cursor_values(merged, now))  # slots before the change are not judged
    elif "grace_period_seconds" in values and row.next_slot_at is not None:
        values["slot_check_at"] = row.next_slot_at.timestamp() + values["grace_period_seconds"]
    if values.keys() & _DEADLINE_INPUTS or reactivated:
        # Muting is not an input of the deadline (core/deadline.py): unmuting keeps it.
        # A new cron schedule, like a reactivation, expects its first slot after now.
        fresh = reactivated or (new_schedule and merged.get("cron"))
        values["deadline"] = compute_deadline(conn, merged, fresh_window_from=now if fresh else None)
    values["date_modified"] = now
    conn.execute(update(services).where(services.c.service_id == row.service_id).values(**values))
    return get_by_id(conn, row.service_id)


def settings_of(service: Mapping[str, Any]) -> deadline.Settings:
    return deadline.Settings(
        alert_interval=service["alert_interval"],
        grace_period_seconds=service["grace_period_seconds"],
        threshold=service["threshold"],
        max_duration_seconds=service.get("max_duration_seconds"),
        date_added=service["date_added"],
        cron=schedules.cron_of(service),
        start_margin_seconds=service.get("start_margin_seconds"),
        failures_to_open=service.get("failures_to_open") or 1,
        successes_to_close=service.get("successes_to_close") or 1,
    )


def compute_deadline(
    conn: Connection, service: Mapping[str, Any], *, fresh_window_from: datetime | None = None
) -> float:
    """The service's deadline from its settings (``service``, a row with any changes
    applied) and its newest signals as stored (index range scans). A row that carries
    ``newest_status`` (rows_with_newest_status) saves reading it again."""
    return deadline.next_due(settings_of(service), newest_signals(conn, service, fresh_window_from=fresh_window_from))


def newest_status_of_service():
    """The status of the service's newest heartbeat, as a column of a services query."""
    return (
        select(heartbeat_events.c.status)
        .where(heartbeat_events.c.service_id == services.c.service_id)
        .order_by(heartbeat_events.c.time.desc(), heartbeat_events.c.heartbeat_id.desc())  # ties: a batch shares one time
        .limit(1)
        .scalar_subquery()
        .label("newest_status")
    )


def rows_with_newest_status(service_ids: Iterable[int]):
    """Whole service rows with their newest heartbeat's status: one statement for a batch."""
    return (select(services, newest_status_of_service())
            .where(services.c.service_id.in_(sorted(service_ids))).order_by(services.c.service_id))


def newest_signals(
    conn: Connection, service: Mapping[str, Any], *, fresh_window_from: datetime | None = None
) -> deadline.Signals:
    service_id = service["service_id"]
    if "newest_status" in service:
        newest = service["newest_status"]
    else:
        newest = conn.execute(
            select(heartbeat_events.c.status)
            .where(heartbeat_events.c.service_id == service_id)
            .order_by(heartbeat_events.c.time.desc(), heartbeat_events.c.heartbeat_id.desc())
            .limit(1)
        ).scalar()
    # The open run matters only to a service with a run limit.
    has_limit = service.get("max_duration_seconds") is not None
    cron = bool(service.get("cron"))
    return deadline.Signals(
        newest_status=newest,
        # A cron service's deadline reads its newest success instead.
        good_times_newest_first=() if cron else newest_good_times(conn, service_id, service["threshold"]),
        last_status=service.get("last_status"),
        oldest_open_start=oldest_open_run_start(conn, service_id) if has_limit else None,
        fresh_window_from=fresh_window_from,
        last_success=service.get("last_success_at") if cron else None,
        **hysteresis.signals(conn, service, newest),
    )


def newest_good_times(conn: Connection, service_id: int, limit: int) -> list[datetime]:
    """The newest UP/DEGRADED heartbeat times, newest first."""
    return conn.scalars(
        select(heartbeat_events.c.time)
        .where(heartbeat_events.c.service_id == service_id, heartbeat_events.c.status.in_(sorted(GOOD_STATUSES)))
        .order_by(heartbeat_events.c.time.desc())
        .limit(limit)
    ).all()


def oldest_open_run_start(conn: Connection, service_id: int) -> datetime | None:
    """Start of the service's oldest job run still running (None for plain heartbeats)."""
    return conn.execute(
        select(func.min(job_runs.c.started_at)).where(
            job_runs.c.service_id == service_id, job_runs.c.state == RunState.RUNNING.value
        )
    ).scalar()


def set_deadlines(conn: Connection, deadlines: Iterable[tuple[int, float]]) -> None:
    rows = [{"sid": service_id, "due": due} for service_id, due in deadlines]
    if rows:  # one executemany, whatever the number
        conn.execute(update(services).where(services.c.service_id == bindparam("sid"))
                     .values(deadline=bindparam("due")), rows)
