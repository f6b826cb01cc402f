"""Queries behind the dashboard's pages. Every page runs a fixed number of statements,
whatever the number of services or heartbeats: filters, ordering and paging happen
in SQL, and timelines are counted per bucket in SQL (never all rows to Python)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import Connection, Integer, Row, and_, case, cast, func, literal, not_, or_, select

from medic.core.model import GOOD_STATUSES, ServiceState
from medic.store.tables import alerts, heartbeat_events, job_runs, notifications, services

# The order of the list: what needs a person first.
STATE_ORDER = (ServiceState.DOWN, ServiceState.NEW, ServiceState.UP, ServiceState.MUTED, ServiceState.INACTIVE)


def state_column():
    """services' state (core.health.state_of) as a SQL expression."""
    c = services.c
    return case(
        (not_(c.active), literal(ServiceState.INACTIVE.value)),
        (c.muted, literal(ServiceState.MUTED.value)),
        (c.down, literal(ServiceState.DOWN.value)),
        (c.last_heartbeat_at.is_(None), literal(ServiceState.NEW.value)),
        else_=literal(ServiceState.UP.value),
    )


def _state_rank():
    c = services.c
    return case(
        (not_(c.active), 4),
        (c.muted, 3),
        (c.down, 0),
        (c.last_heartbeat_at.is_(None), 1),
        else_=2,
    )


def _state_condition(state: str):
    c = services.c
    live = and_(c.active, not_(c.muted))
    return {
        ServiceState.INACTIVE: not_(c.active),
        ServiceState.MUTED: and_(c.active, c.muted),
        ServiceState.DOWN: and_(live, c.down),
        ServiceState.NEW: and_(live, not_(c.down), c.last_heartbeat_at.is_(None)),
        ServiceState.UP: and_(live, not_(c.down), c.last_heartbeat_at.is_not(None)),
    }[ServiceState(state)]


@dataclass(frozen=True)
class Filters:
    states: tuple[str, ...] = ()
    team: str | None = None
    priority: str | None = None
    search: str | None = None

    def conditions(self) -> list:
        where = []
        if self.states:
            where.append(or_(*(_state_condition(s) for s in self.states)))
        if self.team:
            where.append(services.c.team == self.team)
        if self.priority:
            where.append(services.c.priority == self.priority)
        if self.search:
            pattern = "%" + self.search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                or_(
                    func.lower(services.c.heartbeat_name).like(pattern, escape="\\"),
                    func.lower(services.c.service_name).like(pattern, escape="\\"),
                )
            )
        return where


def state_counts(conn: Connection) -> dict[str, int]:
    """Services per state, over the whole fleet (one statement)."""
    state = state_column().label("state")
    counts = {s.value: 0 for s in STATE_ORDER}
    for name, count in conn.execute(select(state, func.count()).group_by(state)):
        counts[name] = count
    return counts


def teams(conn: Connection) -> list[str]:
    return list(conn.scalars(select(services.c.team).distinct().order_by(services.c.team)))


def service_page(conn: Connection, filters: Filters, *, limit: int, offset: int) -> tuple[list[Row], int]:
    """One page of services, down first then by due time, and how many match in all."""
    where = filters.conditions()
    total = conn.execute(select(func.count()).select_from(services).where(*where)).scalar_one()
    rows = list(
        conn.execute(
            select(services, state_column().label("state"))
            .where(*where)
            .order_by(_state_rank(), services.c.deadline, services.c.heartbeat_name)
            .limit(limit)
            .offset(offset)
        )
    )
    return rows, total


def _epoch(conn: Connection, column):
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return func.floor(func.extract("epoch", column))


@dataclass(frozen=True)
class Bucket:
    start: datetime
    good: int
    bad: int

    @property
    def outcome(self) -> str:
        if self.bad:
            return "down" if not self.good else "mixed"
        return "up" if self.good else "none"


def timelines(
    conn: Connection, service_ids: Sequence[int], since: datetime, bucket_seconds: int, buckets: int
) -> dict[int, list[Bucket]]:
    """Heartbeats of each service per bucket from `since`, counted in SQL (one statement)."""
    result = {sid: [Bucket(since + timedelta(seconds=i * bucket_seconds), 0, 0) for i in range(buckets)] for sid in service_ids}
    if not service_ids:
        return result
    start = int(since.timestamp())
    index = ((_epoch(conn, heartbeat_events.c.time) - start) // bucket_seconds).label("bucket")
    good = func.sum(case((heartbeat_events.c.status.in_(sorted(GOOD_STATUSES)), 1), else_=0)).label("good")
    total = func.count().label("total")
    until = since + timedelta(seconds=bucket_seconds * buckets)
    rows = conn.execute(
        select(heartbeat_events.c.service_id, index, good, total)
        .where(
            heartbeat_events.c.service_id.in_(list(service_ids)),
            heartbeat_events.c.time >= since,
            heartbeat_events.c.time < until,
        )
        .group_by(heartbeat_events.c.service_id, index)
    )
    for service_id, i, good_count, count in rows:
        i = int(i)
        if 0 <= i < buckets:
            b = result[service_id][i]
            result[service_id][i] = Bucket(b.start, int(good_count), int(count) - int(good_count))
    return result


def recent_heartbeats(conn: Connection, service_id: int, limit: int = 50) -> list[Row]:
    return list(
        conn.execute(
            select(heartbeat_events.c.heartbeat_id, heartbeat_events.c.time, heartbeat_events.c.status)
            .where(heartbeat_events.c.service_id == service_id)
            .order_by(heartbeat_events.c.time.desc(), heartbeat_events.c.heartbeat_id.desc())
            .limit(limit)
        )
    )


def recent_runs(conn: Connection, service_id: int, limit: int = 50) -> list[Row]:
    return list(
        conn.execute(
            select(job_runs)
            .where(job_runs.c.service_id == service_id)
            .order_by(func.coalesce(job_runs.c.finished_at, job_runs.c.started_at).desc(), job_runs.c.job_run_id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class AlertFilters:
    team: str | None = None
    reason: str | None = None
    since: datetime | None = None
    service_id: int | None = None

    def conditions(self) -> list:
        where = []
        if self.team:
            where.append(services.c.team == self.team)
        if self.reason:
            where.append(alerts.c.open_reason == self.reason)
        if self.since:
            where.append(or_(alerts.c.active, alerts.c.created_date >= self.since))
        if self.service_id is not None:
            where.append(alerts.c.service_id == self.service_id)
        return where


def alert_page(conn: Connection, filters: AlertFilters, *, limit: int, offset: int) -> tuple[list[Row], int]:
    """Open alerts first, then history, newest first; and how many match."""
    where = filters.conditions()
    joined = alerts.join(services, services.c.service_id == alerts.c.service_id)
    total = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
    rows = list(
        conn.execute(
            select(alerts, services.c.heartbeat_name, services.c.service_name, services.c.team, services.c.priority)
            .select_from(joined)
            .where(*where)
            .order_by(alerts.c.active.desc(), alerts.c.created_date.desc(), alerts.c.alert_id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    return rows, total


def deliveries(conn: Connection, alert_ids: Iterable[int]) -> dict[int, list[Row]]:
    """The outbox rows of these alerts, per alert, oldest first (one statement)."""
    ids = list(alert_ids)
    found: dict[int, list[Row]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = conn.execute(
        select(
            notifications.c.notification_id,
            notifications.c.alert_id,
            notifications.c.channel,
            notifications.c.kind,
            notifications.c.state,
            notifications.c.attempts,
            notifications.c.last_error,
            notifications.c.created_at,
            notifications.c.finished_at,
            notifications.c.next_attempt_at,
        )
        .where(notifications.c.alert_id.in_(ids))
        .order_by(notifications.c.notification_id)
    )
    for row in rows:
        found[row.alert_id].append(row)
    return found


def reasons(conn: Connection) -> list[str]:
    return list(conn.scalars(select(alerts.c.open_reason).distinct().order_by(alerts.c.open_reason)))


def services_by_names(conn: Connection, names: Sequence[str]) -> list[Row]:
    lowered = sorted({n.lower() for n in names})
    if not lowered:
        return []
    return list(conn.execute(select(services).where(func.lower(services.c.heartbeat_name).in_(lowered))))
