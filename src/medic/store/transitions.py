"""The worker's writes: open and close alerts with their outbox rows, atomically.

Every write is a compare-and-set that re-checks the condition it acts on, so
several workers (or a heartbeat racing the worker) can never produce a second
page for one incident: only the transaction whose UPDATE changed the service
row writes the alert and its notifications.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import ARRAY, BigInteger, Connection, and_, any_, false, insert, literal, or_, select, true, update

from medic.core.flapping import Rule as FlapRule, kind_for
from medic.core.model import CloseReason, NotificationKind, OutboxState, channel_receives
from medic.core.routing import Route, destinations
from medic.core.transitions import Candidate, alert_name, payload
from medic.store import flapping
from medic.store.bulk import insert_rows
from medic.store.tables import alerts, notifications, services

# Bound parameter lists well under SQLite's variable limit.
CHUNK = 500

_CANDIDATE_COLUMNS = (
    services.c.service_id,
    services.c.heartbeat_name,
    services.c.service_name,
    services.c.team,
    services.c.priority,
    services.c.runbook,
    services.c.alert_interval,
    services.c.threshold,
    services.c.grace_period_seconds,
    services.c.active,
    services.c.muted,
    services.c.down,
    services.c.deadline,
    services.c.last_heartbeat_at,
    services.c.last_status,
    alerts.c.alert_id,
    alerts.c.created_date.label("alert_created"),
    alerts.c.last_reminded_at,
    services.c.cron,
    services.c.timezone,
    services.c.start_margin_seconds,
    services.c.labels,
    alerts.c.suppressed.label("alert_suppressed"),
    services.c.flapping_since.is_not(None).label("flapping"),
)


def unmute_expired(conn: Connection, cutoff: datetime, now: datetime) -> int:
    """Unmute the services core.transitions.mute_expired calls expired."""
    c = services.c
    expired = or_(c.muted_until <= now, and_(c.muted_until.is_(None), c.date_muted <= cutoff))
    return conn.execute(
        update(services).where(c.muted, expired).values(muted=False, date_muted=None, muted_until=None, date_modified=now)
    ).rowcount


def not_held(now: datetime):
    """Not held by a maintenance window at ``now`` (store/maintenance.py hold)."""
    return or_(services.c.suppressed_until.is_(None), services.c.suppressed_until <= now)


def candidates(
    conn: Connection, now: datetime, remind_before: datetime | None, open_through: float | None = None
) -> list[Candidate]:
    """Services that may need a transition: a superset, decided by core.decide.

    One pass over ``services`` with no heartbeat history involved, so a cycle
    costs the same with one day or thirty days of heartbeats stored. Only services
    due by ``open_through`` (Unix time, default now) may open: later ones are held
    while no web process could receive their heartbeats (worker/evaluate.py).
    """
    epoch = now.timestamp()
    unheld = not_held(now)
    opens_by = epoch if open_through is None else min(epoch, open_through)
    may_open = and_(services.c.active, ~services.c.muted, ~services.c.down, services.c.deadline <= opens_by, unheld)
    may_close = and_(services.c.down, or_(~services.c.active, services.c.deadline > epoch))
    conditions = [may_open, may_close]
    if remind_before is not None:
        last_notice = alerts.c.last_reminded_at.is_(None) & (alerts.c.created_date <= remind_before)
        conditions.append(
            and_(services.c.down, services.c.active, ~services.c.muted, unheld,
                 or_(last_notice, alerts.c.last_reminded_at <= remind_before))
        )
    query = (
        select(*_CANDIDATE_COLUMNS)
        .select_from(services.outerjoin(alerts, and_(alerts.c.service_id == services.c.service_id, alerts.c.active)))
        .where(or_(*conditions))
        .order_by(services.c.service_id)
    )
    return [Candidate(**row._mapping) for row in conn.execute(query)]


def candidates_of(conn: Connection, service_ids: Sequence[int]) -> list[Candidate]:
    """The given services as candidates, whatever their state."""
    found = []
    joined = services.outerjoin(alerts, and_(alerts.c.service_id == services.c.service_id, alerts.c.active))
    for chunk in _id_chunks(conn, sorted(service_ids)):
        found += [Candidate(**row._mapping) for row in conn.execute(select(*_CANDIDATE_COLUMNS).select_from(joined).where(chunk))]
    return found


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _id_chunks(conn: Connection, ids: Sequence[int], column=services.c.service_id) -> Iterable:
    """``column IN (...)`` conditions: one array on PostgreSQL, bounded lists on SQLite."""
    if conn.dialect.name == "postgresql":
        yield column == any_(literal(list(ids), ARRAY(BigInteger)))
        return
    for chunk in _chunks(ids):
        yield column.in_(chunk)


def _compare_and_set(conn: Connection, ids: Sequence[int], *still_true, **values) -> list[int]:
    """Update the services of ``ids`` whose rows still meet ``still_true``; returns those ids.

    The condition is re-checked under the row lock, so only one of several
    concurrent workers (or none, if a heartbeat moved the deadline) wins a row.
    """
    won: list[int] = []
    for chunk in _id_chunks(conn, ids):
        won += conn.execute(
            update(services).where(chunk, *still_true).values(**values).returning(services.c.service_id)
        ).scalars().all()
    return won


def open_alerts(
    conn: Connection,
    decided: Sequence[tuple[Candidate, str]],
    now: datetime,
    channels: Sequence[str],
    base_url: str | None,
    routes: Sequence[Route] = (),
    open_through: float | None = None,
    suppressed_by: Mapping[int, int] | None = None,
    flap: FlapRule | None = None,
) -> list[int]:
    """Mark services down, open their alerts, queue triggers (to the targets of the
    routes that match each service, else to ``channels``: core.routing; a flapping
    service's as core.flapping says). Returns alert ids opened. ``open_through`` as
    for ``candidates``. A service in ``suppressed_by`` (service id to the parent's
    open alert: core.dependencies) opens its alert suppressed, with no trigger."""
    suppressed_by = suppressed_by or {}
    by_id = {c.service_id: (c, reason) for c, reason in decided}
    won = _compare_and_set(
        conn,
        list(by_id),
        services.c.down == false(),
        services.c.active == true(),
        services.c.muted == false(),
        services.c.deadline <= (now.timestamp() if open_through is None else min(now.timestamp(), open_through)),
        not_held(now),
        down=True,
        suppressed_until=None,
        maintenance_id=None,
    )
    if not won:
        return []
    won.sort()
    keys = {service_id: f"medic-{service_id}-{uuid.uuid4().hex}" for service_id in won}
    flaps = flapping.record_changes(conn, keys, now, flap)
    rows = []
    for service_id in won:
        c, reason = by_id[service_id]
        rows.append(
            {
                "service_id": service_id,
                "alert_name": alert_name(c, reason)[:512],
                "active": True,
                # A flapping service's alerts share one dedup key: one PagerDuty incident.
                "external_reference_id": flaps.get(service_id, flapping.NORMAL).dedup_key or keys[service_id],
                "open_reason": reason,
                "created_date": now,
                "suppressed": service_id in suppressed_by,
                "suppressed_by": suppressed_by.get(service_id),
            }
        )
    alert_ids = insert_rows(conn, alerts, rows, returning=alerts.c.alert_id)
    queue_triggers(conn, [
        (by_id[row["service_id"]][0], row["open_reason"], alert_id, row["external_reference_id"], row["alert_name"], now)
        for row, alert_id in zip(rows, alert_ids) if not row["suppressed"]
    ], now, channels, base_url, routes, flaps, flap)
    return list(alert_ids)


def queue_triggers(
    conn: Connection,
    opened: Sequence[tuple[Candidate, str, int, str, str, datetime]],
    now: datetime,
    channels: Sequence[str],
    base_url: str | None,
    routes: Sequence[Route] = (),
    flaps: Mapping[int, Any] | None = None,
    flap: FlapRule | None = None,
) -> None:
    """Trigger rows for alerts (candidate, reason, alert id, dedup key, name, opened at);
    ``flaps``: the services' flapping states (store.flapping.record_changes)."""
    flaps = flaps or {}
    outbox = []
    for c, reason, alert_id, dedup_key, name, opened_at in opened:
        event = payload(
            NotificationKind.TRIGGER, c, alert_id=alert_id, dedup_key=dedup_key, name=name,
            reason=reason, opened_at=opened_at, closed_at=None, now=now, base_url=base_url,
        )
        f = flaps.get(c.service_id, flapping.NORMAL)
        outbox += [
            _notification(alert_id, channel, kind, flapping.event_for(event, kind, f, flap), now, target_id)
            for channel, target_id in destinations(routes, channels, c.team, c.priority, c.labels)
            if (kind := kind_for(f.mode, NotificationKind.TRIGGER, channel))
        ]
    insert_rows(conn, notifications, outbox)


def owed(conn: Connection, alert_ids: Sequence[int], channels: Sequence[str]) -> dict[int, list[tuple[str, int | None]]]:
    """Where an open alert's resolve and reminders go: every route target its trigger
    went to (even if the route changed since), and the default route's current
    ``channels`` if its trigger went there (or, opened before any channel or route
    existed, nowhere)."""
    triggered: dict[int, set[tuple[str, int | None]]] = {alert_id: set() for alert_id in alert_ids}
    if alert_ids:
        n = notifications
        for chunk in _id_chunks(conn, list(alert_ids), n.c.alert_id):
            for row in conn.execute(
                select(n.c.alert_id, n.c.channel, n.c.target_id).distinct().where(chunk, n.c.kind == NotificationKind.TRIGGER)
            ):
                triggered[row.alert_id].add((row.channel, row.target_id))
    found = {}
    for alert_id, pairs in triggered.items():
        targets = sorted((channel, target_id) for channel, target_id in pairs if target_id is not None)
        default = not targets or any(target_id is None for _, target_id in pairs)
        found[alert_id] = ([(channel, None) for channel in channels] if default else []) + targets
    return found


def close_alerts(
    conn: Connection,
    decided: Sequence[tuple[Candidate, str]],
    now: datetime,
    channels: Sequence[str],
    base_url: str | None,
    flap: FlapRule | None = None,
) -> list[int]:
    """Clear ``down``, close the open alerts, queue resolves (a flapping service's as
    core.flapping says). Returns alert ids closed."""
    by_id = {c.service_id: (c, reason) for c, reason in decided}
    won = _compare_and_set(
        conn,
        list(by_id),
        services.c.down == true(),
        or_(services.c.active == false(), services.c.deadline > now.timestamp()),
        down=False,
    )
    # One UPDATE per close reason (there are few), not one per alert.
    by_reason: dict[str, list[int]] = {}
    for service_id in won:
        by_reason.setdefault(by_id[service_id][1], []).append(service_id)
    open_alerts_by_service = {}
    for reason, service_ids in by_reason.items():
        for chunk in _id_chunks(conn, service_ids, alerts.c.service_id):
            for alert in conn.execute(
                update(alerts)
                .where(chunk, alerts.c.active == true())
                .values(active=False, closed_date=now, close_reason=reason)
                .returning(
                    alerts.c.service_id, alerts.c.alert_id, alerts.c.alert_name,
                    alerts.c.external_reference_id, alerts.c.created_date, alerts.c.suppressed,
                )
            ):
                open_alerts_by_service[alert.service_id] = alert
    closed: list[int] = []
    outbox = []
    where = owed(conn, [alert.alert_id for alert in open_alerts_by_service.values()], channels)
    # Deactivating is not flapping: resolved at once, and any flapping episode ends.
    deactivated = [sid for sid in open_alerts_by_service if by_id[sid][1] == CloseReason.DEACTIVATED]
    flapping.end(conn, [sid for sid in deactivated if by_id[sid][0].flapping])
    flaps = flapping.record_changes(
        conn, {sid: alert.external_reference_id for sid, alert in open_alerts_by_service.items()
               if sid not in deactivated}, now, flap)
    for service_id in sorted(won):
        c, reason = by_id[service_id]
        alert = open_alerts_by_service.get(service_id)
        if alert is None:
            continue  # down without an open alert cannot happen through the worker; nothing to resolve
        closed.append(alert.alert_id)
        if alert.suppressed:
            continue  # it never paged (core.dependencies): nothing to resolve
        event = payload(
            NotificationKind.RESOLVE, c, alert_id=alert.alert_id, dedup_key=alert.external_reference_id, name=alert.alert_name,
            reason=reason, opened_at=alert.created_date, closed_at=now, now=now, base_url=base_url,
        )
        f = flaps.get(service_id, flapping.NORMAL)
        outbox += [
            _notification(alert.alert_id, channel, kind, flapping.event_for(event, kind, f, flap), now, target_id)
            for channel, target_id in where[alert.alert_id]
            if (kind := kind_for(f.mode, NotificationKind.RESOLVE, channel))
        ]
    insert_rows(conn, notifications, outbox)
    return closed


def remind(
    conn: Connection,
    decided: Sequence[tuple[Candidate, str]],
    now: datetime,
    remind_before: datetime,
    channels: Sequence[str],
    base_url: str | None,
) -> list[int]:
    """Queue reminders for alerts still open; the CAS on last_reminded_at makes it once per period."""
    reminded = []
    outbox = []
    for c, reason in decided:
        alert = conn.execute(
            update(alerts)
            .where(
                alerts.c.alert_id == c.alert_id,
                alerts.c.active == true(),
                or_(
                    alerts.c.last_reminded_at <= remind_before,
                    and_(alerts.c.last_reminded_at.is_(None), alerts.c.created_date <= remind_before),
                ),
            )
            .values(last_reminded_at=now)
            .returning(alerts.c.alert_id, alerts.c.alert_name, alerts.c.external_reference_id, alerts.c.created_date)
        ).first()
        if alert is None:
            continue
        reminded.append(alert.alert_id)
        event = payload(
            NotificationKind.REMINDER, c, alert_id=alert.alert_id, dedup_key=alert.external_reference_id, name=alert.alert_name,
            reason=reason, opened_at=alert.created_date, closed_at=None, now=now, base_url=base_url,
        )
        outbox += [
            _notification(alert.alert_id, channel, NotificationKind.REMINDER, event, now, target_id)
            for channel, target_id in owed(conn, [alert.alert_id], channels)[alert.alert_id]
            if channel_receives(channel, NotificationKind.REMINDER)
        ]
    if outbox:
        conn.execute(insert(notifications), outbox)
    return reminded


def _notification(
    alert_id: int, channel: str, kind: NotificationKind, event: dict, now: datetime, target_id: int | None = None
) -> dict:
    return {
        "alert_id": alert_id,
        "channel": channel,
        "target_id": target_id,
        "kind": kind,
        "payload": event,
        "state": OutboxState.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
