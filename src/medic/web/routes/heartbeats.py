"""POST/GET /heartbeat. Storing is medic.ingest's (the fast path, medic.web.fast_heartbeat, calls it too)."""

from __future__ import annotations

from flask import Blueprint

from medic.store import heartbeats as store
from medic.web.api import operation
from medic.web.context import runtime
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
    outcome = runtime().ingest.accept(body.heartbeat_name, body.status)  # database errors: 503 (app.py)
    if outcome.stored is None:
        raise ApiError(outcome.status, outcome.message)
    return reply(heartbeat_out(outcome.stored), outcome.message, outcome.status)


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
    with runtime().reads.connect() as conn:
        rows = store.list_recent(
            conn, heartbeat_name=query.heartbeat_name, service_name=query.service_name, limit=query.maxCount
        )
    return reply([heartbeat_out(row) for row in rows], f"{len(rows)} heartbeats")
