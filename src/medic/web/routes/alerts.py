"""GET /alerts."""

from __future__ import annotations

from flask import Blueprint

from medic.store import alerts as store
from medic.web.api import operation
from medic.web.context import runtime
from medic.web.envelope import reply
from medic.web.schemas import AlertOut, AlertQuery
from medic.web.serialize import alert_out

bp = Blueprint("alerts", __name__)


@operation(
    bp, "/alerts", "GET",
    summary="List alerts, newest first",
    tag="alerts",
    query=AlertQuery,
    result=AlertOut,
    result_is_list=True,
    errors=(400, 503),
)
def list_alerts(query: AlertQuery):
    with runtime().reads.connect() as conn:
        rows = store.list_alerts(
            conn, active=query.active, heartbeat_name=query.heartbeat_name, limit=query.limit, offset=query.offset
        )
    return reply([alert_out(row) for row in rows], f"{len(rows)} alerts")
