"""Alert listing for the API (the worker's writes live in store/transitions.py)."""

from __future__ import annotations

from sqlalchemy import Connection, Row, func, select

from medic.store.tables import alerts, services


# A suppressed alert names the service whose alert suppressed it (docs/alerting.md,
# "Dependencies"): join with_suppressor and select SUPPRESSED_BY_NAME.
_parent, _parent_service = alerts.alias("parent"), services.alias("parent_service")
SUPPRESSED_BY_NAME = _parent_service.c.heartbeat_name.label("suppressed_by_name")


def with_suppressor(joined):
    return (joined.outerjoin(_parent, _parent.c.alert_id == alerts.c.suppressed_by)
            .outerjoin(_parent_service, _parent_service.c.service_id == _parent.c.service_id))


def list_alerts(
    conn: Connection,
    *,
    active: bool | None = None,
    heartbeat_name: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    query = (
        select(alerts, services.c.heartbeat_name, services.c.service_name, services.c.team, services.c.priority,
               alerts.c.suppressed_by.label("suppressed_by_alert_id"), SUPPRESSED_BY_NAME)
        .select_from(with_suppressor(alerts.join(services, services.c.service_id == alerts.c.service_id)))
        .order_by(alerts.c.created_date.desc(), alerts.c.alert_id.desc())
        .limit(limit)
        .offset(offset)
    )
    if active is not None:
        query = query.where(alerts.c.active == active)
    if heartbeat_name is not None:
        query = query.where(func.lower(services.c.heartbeat_name) == heartbeat_name.lower())
    return list(conn.execute(query))
