"""Heartbeat ingest and listing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import Connection, Row, bindparam, case, func, insert, literal, select, update

from medic.core.model import Status
from medic.store import services as service_queries
from medic.store.tables import heartbeat_events, services


@dataclass(frozen=True)
class Beat:
    heartbeat_name: str
    status: str  # already normalised to a Status value


@dataclass(frozen=True)
class Stored:
    heartbeat_id: int
    service_id: int
    heartbeat_name: str
    service_name: str
    team: str
    priority: str
    time: datetime
    status: str


# Why a heartbeat was not stored.
UNKNOWN = "unknown"
INACTIVE = "inactive"


def _touch_service():
    """One statement that finds an active service by name and moves its deadline.

    Folding the lookup into the UPDATE keeps ingest at two statements per
    heartbeat; RETURNING hands back what the reply and the insert need.
    """
    at_epoch = bindparam("at_epoch")
    return (
        update(services)
        .where(func.lower(services.c.heartbeat_name) == bindparam("name_lower"), services.c.active)
        .values(
            last_heartbeat_at=bindparam("at"),
            last_status=bindparam("status"),
            deadline=case(
                (bindparam("status") == literal(Status.DOWN.value), at_epoch),
                else_=at_epoch + services.c.alert_interval * 60 + services.c.grace_period_seconds,
            ),
        )
        .returning(
            services.c.service_id,
            services.c.heartbeat_name,
            services.c.service_name,
            services.c.team,
            services.c.priority,
            services.c.threshold,
            services.c.alert_interval,
            services.c.grace_period_seconds,
            services.c.date_added,
        )
    )


def record(conn: Connection, beats: Sequence[Beat], now: datetime) -> list[Stored | str]:
    """Store heartbeats in the caller's transaction; one result per beat, in order.

    A result is a ``Stored`` or the reason it was refused (``UNKNOWN``/``INACTIVE``).
    """
    touch = _touch_service()
    results: list[Stored | str] = []
    pending: list[tuple[int, Row, Beat]] = []
    for index, beat in enumerate(beats):
        row = conn.execute(
            touch,
            {"name_lower": beat.heartbeat_name.lower(), "at": now, "at_epoch": now.timestamp(), "status": beat.status},
        ).first()
        if row is None:
            results.append(INACTIVE if service_queries.get_by_name(conn, beat.heartbeat_name) else UNKNOWN)
            continue
        results.append("")  # filled in below, once ids are known
        pending.append((index, row, beat))
    if not pending:
        return results
    ids = conn.execute(
        insert(heartbeat_events).returning(heartbeat_events.c.heartbeat_id, sort_by_parameter_order=True),
        [{"service_id": row.service_id, "time": now, "status": beat.status} for _, row, beat in pending],
    ).scalars().all()
    deadlines = []
    for (index, row, beat), heartbeat_id in zip(pending, ids):
        results[index] = Stored(
            heartbeat_id=heartbeat_id,
            service_id=row.service_id,
            heartbeat_name=row.heartbeat_name,
            service_name=row.service_name,
            team=row.team,
            priority=row.priority,
            time=now,
            status=beat.status,
        )
        if row.threshold > 1 and beat.status != Status.DOWN:
            # The UPDATE assumed threshold 1; count the newest heartbeats instead.
            deadlines.append((row.service_id, service_queries.compute_deadline(conn, dict(row._mapping))))
    service_queries.set_deadlines(conn, deadlines)
    return results


def list_recent(
    conn: Connection,
    *,
    heartbeat_name: str | None = None,
    service_name: str | None = None,
    limit: int = 250,
) -> list[Row]:
    query = (
        select(
            heartbeat_events.c.heartbeat_id,
            services.c.heartbeat_name,
            services.c.service_name,
            heartbeat_events.c.time,
            heartbeat_events.c.status,
            services.c.team,
            services.c.priority,
        )
        .join(services, services.c.service_id == heartbeat_events.c.service_id)
        .order_by(heartbeat_events.c.time.desc(), heartbeat_events.c.heartbeat_id.desc())
        .limit(limit)
    )
    if heartbeat_name is not None:
        query = query.where(func.lower(services.c.heartbeat_name) == heartbeat_name.lower())
    if service_name is not None:
        query = query.where(services.c.service_name == service_name)
    return list(conn.execute(query))
