"""Reading the original Medic's tables (linq-team/medic, PostgreSQL schema ``medic``:
``services``, ``"heartbeatEvents"``, ``alerts``) for `medic import medic`.

Read only. Columns added by the original's later migrations (``grace_period_seconds``,
``max_duration_ms``) are read when the database has them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

SCHEMA = "medic"
_OPTIONAL = ("grace_period_seconds", "max_duration_ms")


class NotOriginal(Exception):
    """The database has no original Medic tables."""


def _columns(conn: Connection, table: str) -> set[str]:
    return set(conn.execute(
        text("SELECT column_name FROM information_schema.columns WHERE table_schema = :schema AND table_name = :table"),
        {"schema": SCHEMA, "table": table},
    ).scalars())


def read_services(conn: Connection) -> list[dict[str, Any]]:
    have = _columns(conn, "services")
    missing = [t for t in ("services", "heartbeatEvents", "alerts") if not _columns(conn, t)]
    if missing:
        raise NotOriginal(f"no table {', '.join(f'{SCHEMA}.{t}' for t in missing)}: not the original Medic's database")
    optional = ", ".join(f"s.{c}" if c in have else f"NULL AS {c}" for c in _OPTIONAL)
    rows = conn.execute(text(
        "SELECT s.service_id, s.heartbeat_name, s.service_name, s.active, s.alert_interval, s.threshold, s.team,"
        f" s.priority, s.muted, s.down, s.runbook, s.date_added, s.date_muted, {optional}"
        f" FROM {SCHEMA}.services AS s ORDER BY s.service_id"
    )).mappings()
    return [dict(row) for row in rows]


def read_heartbeats(conn: Connection, service_id: int, since: datetime) -> list[dict[str, Any]]:
    """The service's heartbeats at or after ``since``, oldest first."""
    rows = conn.execute(text(
        f'SELECT "time", status FROM {SCHEMA}."heartbeatEvents"'
        ' WHERE service_id = :sid AND "time" >= :since ORDER BY "time", heartbeat_id'
    ), {"sid": service_id, "since": since}).mappings()
    return [dict(row) for row in rows]


def read_open_alerts(conn: Connection) -> dict[int, dict[str, Any]]:
    """Each service's newest open alert (the original can hold several)."""
    rows = conn.execute(text(
        "SELECT alert_id, alert_name, service_id, external_reference_id, created_date"
        f" FROM {SCHEMA}.alerts WHERE active = 1 ORDER BY service_id, created_date, alert_id"
    )).mappings()
    return {row["service_id"]: dict(row) for row in rows}
