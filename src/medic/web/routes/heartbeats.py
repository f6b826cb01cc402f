"""POST/GET /heartbeat."""

from __future__ import annotations

from flask import Blueprint

from medic.store import heartbeats as store
from medic.web.api import operation
from medic.web.context import Runtime, runtime
from medic.web.envelope import ApiError, reply
from medic.web.schemas import HeartbeatIn, HeartbeatOut, HeartbeatQuery
from medic.web.serialize import heartbeat_out

bp = Blueprint("heartbeats", __name__)


@operation(
    bp, "/heartbeat", "POST",
    summary="Send a heartbeat",
    tag="heartbeats",
    scope="heartbeat",
    body=HeartbeatIn,
    result=HeartbeatOut,
    statuses=(201,),
    errors=(400, 404, 413, 503),
    description="Unknown keys are ignored (older clients send extras). 201 means the heartbeat is committed.",
)
def post_heartbeat(body: HeartbeatIn):
    rt = runtime()
    status, message, results = store_heartbeat(rt, body)
    if status != 201:
        raise ApiError(status, message)
    return reply(results, message, status)


def store_heartbeat(rt: Runtime, body: HeartbeatIn) -> tuple[int, str, dict | None]:
    """Store one heartbeat: (status, message, results) of the reply. Database errors propagate."""
    result = rt.ingest.submit(store.Beat(body.heartbeat_name, body.status))
    if result == store.UNKNOWN:
        return 404, f"heartbeat_name: no service is registered as '{body.heartbeat_name}'", None
    if result == store.INACTIVE:
        return 400, f"heartbeat_name: the service '{body.heartbeat_name}' is inactive", None
    rt.metrics.heartbeat_received(result.status)
    return 201, "heartbeat stored", heartbeat_out(result)


@operation(
    bp, "/heartbeat", "GET",
    summary="List recent heartbeats, newest first",
    tag="heartbeats",
    query=HeartbeatQuery,
    result=HeartbeatOut,
    result_is_list=True,
    errors=(400, 503),
)
def get_heartbeats(query: HeartbeatQuery):
    with runtime().engine.connect() as conn:
        rows = store.list_recent(
            conn, heartbeat_name=query.heartbeat_name, service_name=query.service_name, limit=query.maxCount
        )
    return reply([heartbeat_out(row) for row in rows], f"{len(rows)} heartbeats")
