"""Maintenance windows (docs/maintenance.md; the rules are core/maintenance.py's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, or_, select, update

from medic.core import schedule
from medic.core.maintenance import Scope, Window
from medic.store.tables import maintenance_windows, services

W = maintenance_windows.c
# Columns a window's spec sets; what a spec leaves out is stored as null.
_SPEC_COLUMNS = ("reason", "service_ids", "team", "labels", "starts_at", "ends_at", "cron", "timezone",
                 "duration_minutes")


def window_of(row: Row | Mapping[str, Any]) -> Window:
    m = row._mapping if isinstance(row, Row) else row
    return Window(
        window_id=m["window_id"],
        reason=m["reason"],
        scope=Scope(service_ids=frozenset(m["service_ids"] or ()), team=m["team"], labels=dict(m["labels"] or {})),
        start=m["starts_at"],
        end=m["ends_at"],
        cron=schedule.Cron(m["cron"], m["timezone"] or schedule.DEFAULT_TIMEZONE) if m["cron"] else None,
        duration=timedelta(minutes=m["duration_minutes"]) if m["duration_minutes"] else None,
        ended_at=m["ended_at"],
    )


def _not_over_by(since: datetime):
    """Windows with an occurrence at or after ``since`` (core Window.is_over's SQL)."""
    return and_(or_(W.ended_at.is_(None), W.ended_at > since), or_(W.cron.is_not(None), W.ends_at > since))


def windows_since(conn: Connection, since: datetime) -> list[Window]:
    """Every window that may be in force at any time from ``since``: what the worker
    loads once per cycle (windows are few) and tests services against in memory."""
    return [window_of(row) for row in conn.execute(select(maintenance_windows).where(_not_over_by(since)))]


def in_force(conn: Connection, now: datetime) -> list[tuple[Window, datetime]]:
    """The windows in force at ``now`` with the end of their occurrence, ending soonest first."""
    found = [(window, span[1]) for window in windows_since(conn, now) if (span := window.span_at(now))]
    return sorted(found, key=lambda pair: (pair[1], pair[0].window_id))


def create(conn: Connection, spec: Mapping[str, Any], now: datetime) -> int:
    values = {name: spec.get(name) for name in _SPEC_COLUMNS}
    return conn.execute(
        insert(maintenance_windows).values(**values, created_at=now, updated_at=now).returning(W.window_id)
    ).scalar_one()


def get_row(conn: Connection, window_id: int) -> Row | None:
    return conn.execute(select(maintenance_windows).where(W.window_id == window_id)).first()


def list_rows(conn: Connection, now: datetime) -> list[Row]:
    """Windows in force or upcoming at ``now``, oldest first."""
    return list(conn.execute(select(maintenance_windows).where(_not_over_by(now)).order_by(W.window_id)))


def replace(conn: Connection, window_id: int, spec: Mapping[str, Any], now: datetime) -> None:
    """Store a window's whole new spec (a PATCH merged and checked) and release the
    services it held, so the next cycle judges them against the window as it is now."""
    values = {name: spec.get(name) for name in _SPEC_COLUMNS}
    conn.execute(update(maintenance_windows).where(W.window_id == window_id).values(**values, updated_at=now))
    release(conn, window_id)


def end(conn: Connection, window_id: int, now: datetime) -> bool:
    """End a window now (or cancel one not yet started); False when it is already over."""
    done = conn.execute(
        update(maintenance_windows)
        .where(W.window_id == window_id, _not_over_by(now))
        .values(ended_at=now, updated_at=now)
    ).rowcount
    if done:
        release(conn, window_id)
    return bool(done)


def release(conn: Connection, window_id: int) -> int:
    """Let the services a window holds be judged again on the next cycle."""
    return conn.execute(
        update(services).where(services.c.maintenance_id == window_id).values(suppressed_until=None, maintenance_id=None)
    ).rowcount


def hold(conn: Connection, held: Sequence[tuple[int, datetime, int]]) -> None:
    """Mark services (id, until, window id) held by a window: the worker's candidate
    query skips them for opening and reminding until then (store/transitions.py)."""
    if not held:
        return
    conn.execute(
        update(services)
        .where(services.c.service_id == bindparam("sid"))
        .values(suppressed_until=bindparam("until"), maintenance_id=bindparam("wid")),
        [{"sid": sid, "until": until, "wid": wid} for sid, until, wid in held],
    )


def service_ids_by_name(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """The ids of the given heartbeat names (case-insensitive), keyed by the name as given."""
    lowered = {name.lower(): name for name in names}
    found = {}
    for row in conn.execute(
        select(services.c.service_id, services.c.heartbeat_name).where(func.lower(services.c.heartbeat_name).in_(list(lowered)))
    ):
        found[lowered[row.heartbeat_name.lower()]] = row.service_id
    return found


def names_of(conn: Connection, service_ids: Sequence[int]) -> dict[int, str]:
    if not service_ids:
        return {}
    return dict(conn.execute(
        select(services.c.service_id, services.c.heartbeat_name).where(services.c.service_id.in_(list(service_ids)))
    ).all())
