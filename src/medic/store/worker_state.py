"""Worker bookkeeping rows (last completed cycle, last cleanup) and outbox figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from medic.core.model import UNFINISHED_STATES
from medic.store.tables import alerts, notifications, services, worker_state

LAST_CYCLE = "last_cycle"
LAST_CLEANUP = "last_cleanup"


def get(conn: Connection, name: str):
    return conn.execute(select(worker_state).where(worker_state.c.name == name)).first()


def put(conn: Connection, name: str, value: str, now: datetime) -> None:
    changed = conn.execute(
        update(worker_state).where(worker_state.c.name == name).values(value=value, updated_at=now)
    ).rowcount
    if changed:
        return
    try:
        with conn.begin_nested():
            conn.execute(worker_state.insert().values(name=name, value=value, updated_at=now))
    except IntegrityError:  # another worker created the row first: ours is an update after all
        conn.execute(update(worker_state).where(worker_state.c.name == name).values(value=value, updated_at=now))


def claim_daily(conn: Connection, name: str, day: str, now: datetime) -> bool:
    """Compare-and-set: True for exactly one caller per (name, day)."""
    row = get(conn, name)
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(worker_state.insert().values(name=name, value=day, updated_at=now))
            return True
        except IntegrityError:  # another worker inserted first
            return False
    if row.value >= day:
        return False
    changed = conn.execute(
        update(worker_state)
        .where(worker_state.c.name == name, worker_state.c.value == row.value)
        .values(value=day, updated_at=now)
    ).rowcount
    return changed == 1


def outbox_backlog(conn: Connection) -> list:
    """Pending notifications per channel with the oldest creation time."""
    return list(
        conn.execute(
            select(notifications.c.channel, func.count(), func.min(notifications.c.created_at))
            .where(notifications.c.state.in_(UNFINISHED_STATES))
            .group_by(notifications.c.channel)
        )
    )


def service_counts(conn: Connection) -> list:
    """(active, muted, down, has_heartbeat, count) groups, for the services-by-state gauge."""
    return list(
        conn.execute(
            select(
                services.c.active,
                services.c.muted,
                services.c.down,
                services.c.last_heartbeat_at.is_not(None).label("seen"),
                func.count(),
            ).group_by(services.c.active, services.c.muted, services.c.down, "seen")
        )
    )


def active_alert_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(alerts).where(alerts.c.active)).scalar_one()
