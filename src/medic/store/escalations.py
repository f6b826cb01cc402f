"""Escalation (docs/routing.md): a route's ``escalate_to`` targets get the trigger of
an alert still open ``escalate_after_minutes`` after it opened.

The compare-and-set on ``alerts.escalated_at`` makes it once per alert across
workers. An alert escalates once: when several routes sent its trigger, the first
whose delay has passed escalates it. Its resolve then goes to the escalation
targets too (they got a trigger: store.transitions.owed). Muted services do not
escalate.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import Connection, func, select, true, update

from medic.core.model import NotificationKind, OutboxState
from medic.core.routing import Route
from medic.store.tables import alerts, notifications, route_targets, services


def escalate(conn: Connection, now: datetime, routes: Sequence[Route]) -> list[int]:
    """Queue escalation triggers that are due; returns the alert ids escalated."""
    escalated: list[int] = []
    n = notifications
    for route in sorted(routes, key=lambda r: (r.escalate_after_minutes or 0, r.route_id)):
        if not (route.escalate_after_minutes and route.escalate_to):
            continue
        due = now - timedelta(minutes=route.escalate_after_minutes)
        triggered = (
            select(n.c.alert_id, n.c.payload)
            .join(route_targets, route_targets.c.target_id == n.c.target_id)
            .join(alerts, alerts.c.alert_id == n.c.alert_id)
            .join(services, services.c.service_id == alerts.c.service_id)
            .where(
                route_targets.c.route_id == route.route_id,
                route_targets.c.role == "page",
                n.c.kind == NotificationKind.TRIGGER,
                alerts.c.active == true(),
                alerts.c.escalated_at.is_(None),
                # A suppressed alert that paged later counts from then (core.dependencies).
                func.coalesce(alerts.c.released_at, alerts.c.created_date) <= due,
                ~services.c.muted,
                services.c.flapping_since.is_(None),  # a flapping service's pages are paused
            )
            .order_by(n.c.alert_id, n.c.notification_id)
        )
        payloads: dict[int, dict] = {}
        for row in conn.execute(triggered):
            payloads.setdefault(row.alert_id, row.payload)
        rows = []
        for alert_id, payload in payloads.items():
            won = conn.execute(
                update(alerts)
                .where(alerts.c.alert_id == alert_id, alerts.c.active == true(), alerts.c.escalated_at.is_(None))
                .values(escalated_at=now)
            ).rowcount
            if not won:
                continue
            escalated.append(alert_id)
            rows += [
                {"alert_id": alert_id, "channel": target.channel, "target_id": target.target_id,
                 "kind": NotificationKind.TRIGGER, "payload": payload, "state": OutboxState.PENDING,
                 "attempts": 0, "next_attempt_at": now, "created_at": now}
                for target in route.escalate_to
            ]
        if rows:
            conn.execute(notifications.insert(), rows)
    return escalated
