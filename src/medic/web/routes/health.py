"""Health checks for load balancers, Kubernetes and humans."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from medic.notify import channel_status
from medic.store import gaps
from medic.store import worker_state as ws
from medic.store.engine import ping
from medic.store.errors import describe_db_error
from medic.store.write_health import probe_write
from medic.web.api import operation
from medic.web.context import runtime
from medic.web.envelope import envelope, reply

bp = Blueprint("health", __name__)

READY_TIMEOUT_SECONDS = 2.0


def _with_status(report: dict, message: str, code: int) -> Response:
    """The envelope plus the original Medic's top-level `status`, which load balancers
    and its CLI read: "healthy", else "degraded" (database down or read-only, or worker stalled).
    Unconfigured channels are not a fault here, unlike in the original."""
    worker = report.get("worker") or {}
    healthy = report["database"]["status"] == "up" and worker.get("status") != "stalled"
    response = jsonify({**envelope(report, message, code), "status": "healthy" if healthy else "degraded"})
    response.status_code = code
    return response


@operation(bp, "/health", "GET", summary="Comprehensive health", tag="health", scope="open", statuses=(200,), errors=(503,),
           description="200 while the database answers and takes writes, 503 when it does not (a failed write "
           "probe, or a write that failed in the last 30 s). Reports the worker's last "
           "completed cycle, the notification backlog, which channels are configured and `last_gap`, the newest "
           "time Medic itself could not receive or evaluate heartbeats (`start`, `end`, `seconds`, `cause`: web, "
           "database or worker; null if none). Beside the "
           "envelope, `status` is \"healthy\", or \"degraded\" when the database is down or read-only or the "
           "worker stalled.")
def health():
    rt = runtime()
    settings = rt.settings
    now = rt.now()
    channels = channel_status(settings)
    report: dict = {"database": {"status": "down"}, "worker": None, "outbox": None, "channels": channels}
    if rt.reads.replica is not None:  # informational: reads fall back to the primary on their own
        rt.reads.engine()
        report["read_replica"] = rt.reads.describe()
    try:
        latency = ping(rt.engine, READY_TIMEOUT_SECONDS)
        with rt.engine.connect() as conn:
            last_cycle = ws.get(conn, ws.LAST_CYCLE)
            backlog = ws.outbox_backlog(conn)
            last_gap = gaps.last(conn)
    except Exception as exc:  # the report is the point: say what failed, do not raise
        report["database"] = {"status": "down", "error": type(exc).__name__}
        return _with_status(report, "database unavailable", 503)
    report["database"] = {"status": "up", "latency_ms": round(latency * 1000, 2)}
    unwritable = _write_problem(rt, now)
    if unwritable:
        report["database"] = {"status": "read-only", "latency_ms": round(latency * 1000, 2), **unwritable}
    stale_after = max(4 * settings.worker_interval_seconds, 60)
    if last_cycle is None:
        report["worker"] = {"status": "unknown", "last_cycle": None, "age_seconds": None}
    else:
        age = (now - last_cycle.updated_at).total_seconds()
        report["worker"] = {
            "status": "ok" if age <= stale_after else "stalled",
            "last_cycle": last_cycle.updated_at.isoformat(),
            "age_seconds": round(age, 3),
        }
    report["last_gap"] = None if last_gap is None else {
        "start": last_gap.start.isoformat(), "end": last_gap.end.isoformat(),
        "seconds": round(last_gap.seconds, 3), "cause": last_gap.cause,
    }
    oldest = min((created for _, _, created in backlog), default=None)
    report["outbox"] = {
        "pending": sum(count for _, count, _ in backlog),
        "by_channel": {channel: count for channel, count, _ in backlog},
        "oldest_age_seconds": round((now - oldest).total_seconds(), 3) if oldest else None,
    }
    if unwritable:
        return _with_status(report, f"database cannot write: {unwritable['error']}", 503)
    missing = [name for name, ok in channels.items() if not ok]
    message = "ok" if not missing else f"ok; not configured: {', '.join(missing)}"
    return _with_status(report, message, 200)


def _write_problem(rt, now) -> dict | None:
    """Why the database cannot take writes (a failed probe, or a recent failed
    write in this process), or None."""
    try:
        probe_write(rt.engine, now, READY_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"error": describe_db_error(exc), "since": None}
    recent = rt.write_watch.recent_failure(now) if rt.write_watch is not None else None
    if recent is not None:
        return {"error": recent[1], "since": recent[0].isoformat()}
    return None


@operation(bp, "/health/live", "GET", summary="Liveness: the process serves", tag="health", scope="open")
def live():
    return reply({"status": "alive"}, "alive")


@operation(bp, "/health/ready", "GET", summary="Readiness: the database answers quickly", tag="health", scope="open", errors=(503,))
def ready():
    rt = runtime()
    try:
        latency = ping(rt.engine, READY_TIMEOUT_SECONDS)
    except Exception as exc:
        return reply({"database": "down", "error": type(exc).__name__}, "not ready: database unavailable", 503)
    unwritable = _write_problem(rt, rt.now())
    if unwritable:
        return reply(
            {"database": "read-only", **unwritable}, f"not ready: database cannot write: {unwritable['error']}", 503
        )
    return reply({"database": "up", "latency_ms": round(latency * 1000, 2)}, "ready")


@operation(bp, "/v1/healthcheck/network", "GET", summary="Legacy load-balancer check", tag="health", scope="open",
           statuses=(204,), raw=True)
def network():
    return Response(status=204)
