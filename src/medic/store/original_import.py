"""Writing a service of the original Medic into Medic's tables (`medic import medic`):
the service, its recent heartbeats and its open alert, in the caller's transaction.

Heartbeats and open alerts have no API, hence the database. The service is created
by store/services.create, then given the original's state; its deadline is counted
from the imported heartbeats by the same rule as any other (store/services.compute_deadline).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, update

from medic.importers.medic import Service
from medic.store import services as service_queries
from medic.store.bulk import insert_rows
from medic.store.tables import alerts, heartbeat_events, services

CHUNK = 5000  # heartbeat rows per INSERT


def add(conn: Connection, imported: Service, heartbeats: Sequence[dict[str, Any]], now: datetime) -> bool:
    """Create the service with its heartbeats (``time``, Medic ``status``, oldest first)
    and open alert. False, and nothing written, when Medic already has a service of that name."""
    row, created = service_queries.create(conn, imported.values, now)
    if not created:
        return False
    sid = row.service_id
    for start in range(0, len(heartbeats), CHUNK):
        insert_rows(conn, heartbeat_events, [{"service_id": sid, "time": beat["time"], "status": beat["status"]}
                                             for beat in heartbeats[start:start + CHUNK]])
    state: dict[str, Any] = {
        "active": imported.active,
        "muted": imported.muted,
        "date_muted": (imported.date_muted or now) if imported.muted else None,
        "date_added": min(imported.date_added or now, now),
        "down": imported.alert is not None,
    }
    if heartbeats:
        state.update(last_heartbeat_at=heartbeats[-1]["time"], last_status=heartbeats[-1]["status"])
    merged = {**row._mapping, **state}
    state["deadline"] = service_queries.compute_deadline(conn, merged)
    conn.execute(update(services).where(services.c.service_id == sid).values(**state))
    if imported.alert is not None:
        # Reminders count from the import: the incident was announced by the original.
        insert_rows(conn, alerts, [{**imported.alert, "service_id": sid, "active": True,
                                    "created_date": imported.alert["created_date"] or now, "last_reminded_at": now}])
    return True
