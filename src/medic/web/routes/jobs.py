"""Batch jobs: start/complete/fail signals, run listing and duration stats (/v2)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from medic.core.jobs import JobAction, RunState, duration_stats, millisecond_stats
from medic.store import jobs as store
from medic.web.api import operation, parse_body, request_body
from medic.web.context import runtime
from medic.web.envelope import ApiError, reply
from medic.web.job_schemas import JobRunOut, JobRunsQuery, JobSignalIn, JobStatsOut, JobStatsQuery

bp = Blueprint("jobs", __name__)

_SIGNAL_DOC = (
    "Optional JSON body {run_id, message}; an empty body (`curl -X POST`) is accepted. "
    "The path segment is a heartbeat_name or a numeric service_id (the name wins). "
    "Counts as a heartbeat, except `fail`. A `complete` or `fail` naming a run_id whose "
    "`start` never arrived is recorded as a run without a start. 201 when recorded; 200 when the same signal "
    "for the same run_id was already recorded (a retry); 409 when the run already "
    "finished otherwise."
)
_SUMMARY = {
    JobAction.START: "Signal that a job run started (run_id generated when omitted)",
    JobAction.COMPLETE: "Signal that a job run succeeded (without run_id: the newest open run)",
    JobAction.FAIL: "Signal that a job run failed; alerts on the next worker cycle",
}


def _signal_body() -> JobSignalIn:
    # Cron users run `curl -X POST url`, sometimes with an empty `-d ''` (a form
    # content type): no body at all is a valid signal.
    if not request_body().strip():
        return JobSignalIn()
    return parse_body(JobSignalIn)


def _service(conn, ident: str):
    row = store.resolve(conn, ident)
    if row is None:
        raise ApiError(404, f"no service is registered as '{ident}' (heartbeat_name or service_id)")
    return row


def run_out(run: Any, heartbeat_name: str) -> dict[str, Any]:
    return JobRunOut.model_validate({**run._mapping, "heartbeat_name": heartbeat_name}).model_dump(mode="json")


def _signal(action: JobAction, service: str):
    body = _signal_body()
    rt = runtime()
    signal = store.Signal(action, body.run_id, body.message or None)
    now = rt.now()
    try:
        with rt.engine.begin() as conn:
            row = _service(conn, service)
            run, row = store.apply_signal(conn, row.service_id, signal, now)
    except store.SignalRefused as refused:  # rolled back: nothing changed
        if refused.kind == store.INACTIVE:
            raise ApiError(400, f"service: '{service}' is inactive") from None
        name = row.heartbeat_name
        if refused.kind == store.REPLAY:
            return reply(run_out(refused.run, name), f"run already {refused.run.state}; nothing changed", 200)
        raise ApiError(
            409, f"run_id: run '{body.run_id}' already {refused.run.state}", run_out(refused.run, name)
        ) from None
    rt.metrics.heartbeat_received("DOWN" if action == JobAction.FAIL else "UP")
    verb = {JobAction.START: "started", JobAction.COMPLETE: "completed", JobAction.FAIL: "failed"}[action]
    return reply(run_out(run, row.heartbeat_name), f"run {verb}", 201)


def _register(action: JobAction) -> None:
    def view(service: str):
        return _signal(action, service)

    view.__name__ = f"job_{action.value}"
    operation(
        bp, f"/v2/heartbeat/<service>/{action.value}", "POST",
        summary=_SUMMARY[action],
        tag="jobs",
        result=JobRunOut,
        statuses=(200, 201),
        errors=(400, 404, 409, 413, 503),
        path_params=("service",),
        description=_SIGNAL_DOC,
        scope="heartbeat",  # a cron job's key can report runs and nothing else
    )(view)


for _action in JobAction:
    _register(_action)


@operation(
    bp, "/v2/services/<service>/stats", "GET",
    summary="Duration statistics of a job's recent runs",
    tag="jobs",
    query=JobStatsQuery,
    result=JobStatsOut,
    path_params=("service",),
    errors=(400, 404, 503),
    scope="read",
    description="Over the newest `limit` finished runs: counts by state, and count, avg, p50, p95, "
    "p99, min, max of the durations (seconds) of those that succeeded. Percentiles interpolate "
    "linearly between closest ranks. The same figures in milliseconds under the original Medic's "
    "keys (`run_count`, `avg_duration_ms`, `p50_duration_ms`, ...), null below 5 durations.",
)
def job_stats(service: str, query: JobStatsQuery):
    with runtime().reads.connect() as conn:
        row = _service(conn, service)
        runs = store.finished_runs(conn, row.service_id, query.limit)
        running = store.count_open(conn, row.service_id)
    durations = [
        r.duration_seconds for r in runs if r.state == RunState.SUCCEEDED and r.duration_seconds is not None
    ]
    figures = duration_stats(durations)
    by_state = {RunState.SUCCEEDED.value: 0, RunState.FAILED.value: 0}
    for r in runs:
        by_state[r.state] = by_state.get(r.state, 0) + 1
    by_state[RunState.RUNNING.value] = running
    results = JobStatsOut(
        service_id=row.service_id,
        heartbeat_name=row.heartbeat_name,
        limit=query.limit,
        runs=len(runs),
        by_state=by_state,
        count=figures.count,
        avg=figures.avg,
        p50=figures.p50,
        p95=figures.p95,
        p99=figures.p99,
        min=figures.min,
        max=figures.max,
        oldest_finished_at=runs[-1].finished_at if runs else None,
        newest_finished_at=runs[0].finished_at if runs else None,
        **millisecond_stats(figures),
    )
    return reply(results.model_dump(mode="json"), f"{figures.count} durations from {len(runs)} finished runs")


@operation(
    bp, "/v2/services/<service>/runs", "GET",
    summary="A job's runs, newest first (open runs, then finished ones)",
    tag="jobs",
    query=JobRunsQuery,
    result=JobRunOut,
    result_is_list=True,
    path_params=("service",),
    errors=(400, 404, 503),
    scope="read",
)
def job_runs(service: str, query: JobRunsQuery):
    with runtime().reads.connect() as conn:
        row = _service(conn, service)
        runs = store.list_runs(conn, row.service_id, state=query.state, limit=query.limit)
    return reply([run_out(run, row.heartbeat_name) for run in runs], f"{len(runs)} runs")
