"""Job runs: applying start/complete/fail signals, listing runs, stats input."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, func, insert, literal_column, select, update

from medic.core import deadline
from medic.core.jobs import (
    FINAL_STATE, HEARTBEAT_STATUS, JobAction, RunState, duration_seconds, finished_too_fast, status_after_signal,
)
from medic.core.schedule import SlotOutcome
from medic.core.model import GOOD_STATUSES
from medic.store import hysteresis, schedules
from medic.store import services as service_queries
from medic.store.tables import heartbeat_events, job_runs, services


class SignalRefused(Exception):
    """A signal that changes nothing; ``kind`` is one of the constants below."""

    def __init__(self, kind: str, run: Row | None = None):
        super().__init__(kind)
        self.kind = kind
        self.run = run


INACTIVE = "inactive"
RUN_FINISHED = "run_finished"  # a run closed differently, or a start reusing a finished run's id
REPLAY = "replay"  # the same signal again (a client retry): answered with the run as it is


# Inlined rather than bound so both databases match it to the partial index
# on open runs (a bound value cannot imply the index's predicate in a generic plan).
_OPEN = job_runs.c.state == literal_column(f"'{RunState.RUNNING.value}'")


@dataclass(frozen=True)
class Signal:
    action: JobAction
    run_id: str | None = None
    message: str | None = None


def resolve(conn: Connection, ident: str) -> Row | None:
    """A service by heartbeat_name, else by numeric service_id.

    The name wins, so a service named "42" is never mistaken for service 42.
    """
    row = service_queries.get_by_name(conn, ident)
    if row is None and ident.isascii() and ident.isdigit() and len(ident) <= 18:
        row = service_queries.get_by_id(conn, int(ident))
    return row


def apply_signal(conn: Connection, service_id: int, signal: Signal, now: datetime) -> tuple[Row, Row]:
    """Record one signal in the caller's transaction; returns (run, service).

    Raises SignalRefused (the caller rolls back, so nothing changes). The first
    statement writes the service row: it serialises signals of one service
    (row lock on PostgreSQL, the write lock on SQLite) before anything is read.
    """
    service = conn.execute(
        update(services)
        .where(services.c.service_id == service_id, services.c.active)
        .values(last_heartbeat_at=now)
        .returning(*services.c)
    ).first()
    if service is None:
        raise SignalRefused(INACTIVE)
    if signal.action == JobAction.START:
        run = _start(conn, service_id, signal, now)
    else:
        run = _finish(conn, service_id, signal, now)
        if run.state == RunState.SUCCEEDED and service.max_duration_seconds is not None:
            _abandon_overdue(conn, service_id, now - timedelta(seconds=service.max_duration_seconds), now)

    status = HEARTBEAT_STATUS[signal.action]
    conn.execute(insert(heartbeat_events).values(service_id=service_id, time=now, status=status))
    oldest_open_start = service_queries.oldest_open_run_start(conn, service_id)
    cron = service.cron is not None
    too_fast = cron and run.state == RunState.SUCCEEDED and finished_too_fast(
        run.duration_seconds, service.min_runtime_seconds
    )
    last_status = status_after_signal(
        signal.action, previous_status=service.last_status, run_open=oldest_open_start is not None,
        too_fast=too_fast,
    )
    last_success = service.last_success_at
    if cron:  # the slot this signal concerns gets its outcome (docs/schedules.md)
        if signal.action == JobAction.COMPLETE and not too_fast:
            schedules.record_success(conn, service._mapping, now, too_long=_too_long(run, service.max_duration_seconds))
            last_success = now
        elif signal.action != JobAction.START:
            outcome = SlotOutcome.TOO_FAST if too_fast else SlotOutcome.FAILED
            schedules.record_outcome(conn, service._mapping, now, outcome)
    if service.threshold > 1:
        good_times = service_queries.newest_good_times(conn, service_id, service.threshold)
    else:  # the heartbeat just stored is all the history threshold 1 needs
        good_times = [now] if status in GOOD_STATUSES else []
    due = deadline.next_due(
        service_queries.settings_of(service._mapping),
        deadline.Signals(
            newest_status=status,
            good_times_newest_first=good_times,
            last_status=last_status,
            oldest_open_start=oldest_open_start,
            last_success=last_success,
            **hysteresis.signals(conn, {**service._mapping, "last_status": last_status, "last_success_at": last_success},
                                 status),
        ),
    )
    conn.execute(
        update(services).where(services.c.service_id == service_id).values(deadline=due, last_status=last_status)
    )
    return run, service


def _too_long(run: Row, max_runtime: int | None) -> bool:
    return max_runtime is not None and run.duration_seconds is not None and run.duration_seconds > max_runtime


def _get_run(conn: Connection, service_id: int, run_id: str) -> Row | None:
    return conn.execute(
        select(job_runs).where(job_runs.c.service_id == service_id, job_runs.c.run_id == run_id)
    ).first()


def _new_run_id() -> str:
    return uuid.uuid4().hex


def _insert(conn: Connection, values: dict) -> Row:
    job_run_id = conn.execute(insert(job_runs).values(**values).returning(job_runs.c.job_run_id)).scalar_one()
    return conn.execute(select(job_runs).where(job_runs.c.job_run_id == job_run_id)).one()


def _start(conn: Connection, service_id: int, signal: Signal, now: datetime) -> Row:
    if signal.run_id is not None:
        existing = _get_run(conn, service_id, signal.run_id)
        if existing is not None:
            raise SignalRefused(REPLAY if existing.state == RunState.RUNNING else RUN_FINISHED, existing)
    return _insert(
        conn,
        {
            "service_id": service_id,
            "run_id": signal.run_id or _new_run_id(),
            "state": RunState.RUNNING,
            "started_at": now,
            "message": signal.message,
        },
    )


def _finish(conn: Connection, service_id: int, signal: Signal, now: datetime) -> Row:
    state = FINAL_STATE[signal.action]
    if signal.run_id is not None:
        run = _get_run(conn, service_id, signal.run_id)
        if run is not None and run.state != RunState.RUNNING:
            raise SignalRefused(REPLAY if run.state == state else RUN_FINISHED, run)
    else:
        run = conn.execute(
            select(job_runs)
            .where(job_runs.c.service_id == service_id, _OPEN)
            .order_by(job_runs.c.started_at.desc(), job_runs.c.job_run_id.desc())
            .limit(1)
        ).first()
    if run is None:
        # Closed without a start: a cron job that only reports the outcome, or a start
        # that was lost (a lost start must not hide a failed run).
        return _insert(
            conn,
            {
                "service_id": service_id,
                "run_id": signal.run_id or _new_run_id(),
                "state": state,
                "finished_at": now,
                "message": signal.message,
            },
        )
    conn.execute(
        update(job_runs)
        .where(job_runs.c.job_run_id == run.job_run_id)
        .values(
            state=state,
            finished_at=now,
            duration_seconds=duration_seconds(run.started_at, now),
            message=signal.message if signal.message is not None else run.message,
        )
    )
    return conn.execute(select(job_runs).where(job_runs.c.job_run_id == run.job_run_id)).one()


def _abandon_overdue(conn: Connection, service_id: int, started_before: datetime, now: datetime) -> None:
    """Close runs left open past max_duration once a later run succeeded.

    A run whose host died never reports; without this its overdue page would
    stay open however many runs succeed after it.
    """
    conn.execute(
        update(job_runs)
        .where(job_runs.c.service_id == service_id, _OPEN, job_runs.c.started_at <= started_before)
        .values(state=RunState.FAILED, finished_at=now, message="abandoned: still open when a later run completed")
    )


def open_runs(conn: Connection, service_id: int, limit: int) -> list[Row]:
    """Open runs, newest start first."""
    return list(
        conn.execute(
            select(job_runs)
            .where(job_runs.c.service_id == service_id, _OPEN)
            .order_by(job_runs.c.started_at.desc(), job_runs.c.job_run_id.desc())
            .limit(limit)
        )
    )


def count_open(conn: Connection, service_id: int) -> int:
    return conn.execute(
        select(func.count()).select_from(job_runs).where(job_runs.c.service_id == service_id, _OPEN)
    ).scalar_one()


def finished_runs(conn: Connection, service_id: int, limit: int, state: str | None = None) -> list[Row]:
    """Finished runs, newest finish first."""
    query = (
        select(job_runs)
        .where(job_runs.c.service_id == service_id, job_runs.c.finished_at.is_not(None))
        .order_by(job_runs.c.finished_at.desc(), job_runs.c.job_run_id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(job_runs.c.state == state)
    return list(conn.execute(query))


def list_runs(conn: Connection, service_id: int, *, state: str | None = None, limit: int = 100) -> list[Row]:
    """Runs newest first: the open ones, then the finished ones by finish time."""
    running = open_runs(conn, service_id, limit) if state in (None, RunState.RUNNING) else []
    if state == RunState.RUNNING:
        return running
    return running + finished_runs(conn, service_id, limit - len(running), state)
