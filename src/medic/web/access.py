"""What every answered request leaves behind: its request id, latency metric and access log line.

One place for both ways a request is served: the Flask app's after-request hook and
the plain-WSGI heartbeat path (``medic.web.fast_heartbeat``).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medic.metrics import ProcessMetrics
    from medic.auth.authenticator import Principal

access_log = logging.getLogger("medic.access")


def request_id(presented: str | None) -> str:
    """The caller's X-Request-ID (cut to 64 characters), else a new one."""
    return (presented or "")[:64] or uuid.uuid4().hex


def record(
    metrics: "ProcessMetrics",
    *,
    log_stored_heartbeats: bool,
    method: str,
    endpoint: str,
    path: str,
    status: int,
    elapsed: float,
    request_id: str | None,
    remote_addr: str | None,
    principal: "Principal | None",
    database_unavailable: bool = False,
) -> None:
    metrics.http_duration.labels(method=method, endpoint=endpoint, status=str(status)).observe(elapsed)
    if status == 201 and endpoint == "/heartbeat" and not log_stored_heartbeats:
        return  # its row in heartbeat_events is the record (LOG_STORED_HEARTBEATS)
    if database_unavailable:
        # A 503 because the database is down: the outage is logged by the throttled
        # `database unavailable` lines (when it starts, while it lasts, when it ends);
        # a line per refused request would be hundreds a second under load.
        return
    if not access_log.isEnabledFor(logging.INFO):  # LOG_LEVEL above INFO: skip building the extras
        return
    access_log.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "remote_addr": remote_addr,
            "api_key": getattr(principal, "public_id", None),  # the id only, never the secret
        },
    )
