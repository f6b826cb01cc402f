"""Queries behind the dashboard's pages. Every page runs a fixed number of statements,
whatever the number of services or heartbeats: filters, ordering and paging happen
in SQL, and timelines are counted per bucket in SQL (never all rows to Python)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from sqlalchemy import Connection, Row, String, and_, case, func, literal, not_, or_, select

from medic.core.model import GOOD_STATUSES, ServiceState
from medic.store.alerts import SUPPRESSED_BY_NAME, with_suppressor
from medic.store.tables import alerts, heartbeat_events, job_runs, notifications, service_slots, services

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
    order = (_state_rank(), services.c.deadline, services.c.service_id)
    # Sort narrow (ids only), then read the page's whole rows: half the work at 10,000 services.
    page_ids = select(services.c.service_id).where(*where).order_by(*order).limit(limit).offset(offset)
    rows = list(
        conn.execute(
            select(services, state_column().label("state"))
            .where(services.c.service_id.in_(page_ids.scalar_subquery()))
            .order_by(*order)
        )
    )
    return rows, total


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


GRAIN = 600  # bucket widths are whole multiples of ten minutes


def window_start(now: datetime, bucket_seconds: int, buckets: int) -> datetime:
    """Start of `buckets` buckets aligned on multiples of `bucket_seconds`, the last one holding `now`."""
    aligned = int(now.timestamp()) // bucket_seconds * bucket_seconds
    return datetime.fromtimestamp(aligned - (buckets - 1) * bucket_seconds, tz=timezone.utc)


def timelines(
    conn: Connection, service_ids: Sequence[int], since: datetime, bucket_seconds: int, buckets: int
) -> dict[int, list[Bucket]]:
    """Heartbeats of each service per bucket from `since` (from window_start), counted in
    SQL in one statement: at most one row per service and time group comes back to
    Python (on SQLite, whose stored text is grouped by prefix, ten-minute or hourly groups)."""
    if bucket_seconds % GRAIN:
        raise ValueError("bucket_seconds must be a multiple of 600")
    counts = {sid: [[0, 0] for _ in range(buckets)] for sid in service_ids}
    if service_ids:
        start = int(since.timestamp())
        until = since + timedelta(seconds=bucket_seconds * buckets)
        time_col = heartbeat_events.c.time
        if conn.dialect.name == "sqlite":
            # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC): a prefix is a time group.
            hourly = bucket_seconds % 3600 == 0
            key = func.substr(time_col, 1, 13 if hourly else 15, type_=String).label("k")
        else:
            key = func.floor(func.extract("epoch", time_col) / bucket_seconds).label("k")
        good = func.sum(case((heartbeat_events.c.status.in_(sorted(GOOD_STATUSES)), 1), else_=0)).label("good")
        rows = conn.execute(
            select(heartbeat_events.c.service_id, key, good, func.count().label("total"))
            .where(heartbeat_events.c.service_id.in_(list(service_ids)), time_col >= since, time_col < until)
            .group_by(heartbeat_events.c.service_id, key)
        )
        parsed: dict[str, int] = {}  # the same few time groups recur for every service
        for service_id, k, good_count, total in rows:
            if isinstance(k, str):
                seconds = parsed.get(k)
                if seconds is None:
                    text_time = k + (":00" if len(k) == 13 else "0")
                    seconds = parsed[k] = int(
                        datetime.strptime(text_time, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp())
            else:
                seconds = int(k) * bucket_seconds
            i = (seconds - start) // bucket_seconds
            if 0 <= i < buckets:
                cell = counts[service_id][i]
                cell[0] += int(good_count)
                cell[1] += int(total) - int(good_count)
    return {
        sid: [Bucket(since + timedelta(seconds=i * bucket_seconds), g, b) for i, (g, b) in enumerate(cells)]
        for sid, cells in counts.items()
    }


def recent_heartbeats(conn: Connection, service_id: int, limit: int = 50) -> list[Row]:
    return list(
        conn.execute(
            select(heartbeat_events.c.heartbeat_id, heartbeat_events.c.time, heartbeat_events.c.status)
            .where(heartbeat_events.c.service_id == service_id)
            .order_by(heartbeat_events.c.time.desc(), heartbeat_events.c.heartbeat_id.desc())
            .limit(limit)
        )
    )


def recent_slots(conn: Connection, service_id: int, now: datetime, limit: int) -> list[tuple[datetime, str]]:
    """A cron service's newest slots up to ``now`` with their outcomes, oldest first."""
    rows = conn.execute(
        select(service_slots.c.slot_at, service_slots.c.outcome)
        .where(service_slots.c.service_id == service_id, service_slots.c.slot_at <= now)
        .order_by(service_slots.c.slot_at.desc())
        .limit(limit)
    ).all()
    return [(slot_at, outcome) for slot_at, outcome in reversed(rows)]


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
            select(alerts, services.c.heartbeat_name, services.c.service_name, services.c.team, services.c.priority,
                   SUPPRESSED_BY_NAME)
            .select_from(with_suppressor(joined))
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
