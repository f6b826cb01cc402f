"""Alert listing for the API (the worker's writes live in store/transitions.py)."""

from __future__ import annotations

from sqlalchemy import Connection, Row, func, select

from medic.store.tables import alerts, services


def list_alerts(
    conn: Connection,
    *,
    active: bool | None = None,
    heartbeat_name: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    # A suppressed alert names the service whose alert suppressed it (docs/alerting.md).
    parent, parent_service = alerts.alias("parent"), services.alias("parent_service")
    query = (
        select(alerts, services.c.heartbeat_name, services.c.service_name, services.c.team, services.c.priority,
               alerts.c.suppressed_by.label("suppressed_by_alert_id"),
               parent_service.c.heartbeat_name.label("suppressed_by_name"))
        .join(services, services.c.service_id == alerts.c.service_id)
        .outerjoin(parent, parent.c.alert_id == alerts.c.suppressed_by)
        .outerjoin(parent_service, parent_service.c.service_id == parent.c.service_id)
        .order_by(alerts.c.created_date.desc(), alerts.c.alert_id.desc())
        .limit(limit)
        .offset(offset)
    )
    if active is not None:
        query = query.where(alerts.c.active == active)
    if heartbeat_name is not None:
        query = query.where(func.lower(services.c.heartbeat_name) == heartbeat_name.lower())
    return list(conn.execute(query))
