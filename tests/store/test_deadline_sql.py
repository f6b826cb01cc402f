"""The stored deadline equals core/deadline.py's ``next_due`` on every write path.

The heartbeat batch computes the deadline in SQL for speed (one SET clause in SQLite's
and PostgreSQL's batch statements, the latter also run by the group-commit writer in
autocommit); these cases hold that SQL, the
recounts and the other write paths equal to the one function, on both databases.
The expected value is computed here from what the test sent, not read back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from medic.core import deadline
from medic.core.jobs import HEARTBEAT_STATUS, JobAction, status_after_signal
from medic.core.model import GOOD_STATUSES
from medic.ingest import transactions
from medic.store import heartbeats as hb
from medic.store import jobs
from medic.store import services as svc

WINDOW_MINUTES = 5
LIMIT = 120  # max_duration_seconds of the job cases


@dataclass
class Expected:
    """What the test sent, and the deadline the one function derives from it."""

    settings: deadline.Settings
    beats: list[tuple[datetime, str]] = field(default_factory=list)
    last_status: str | None = None
    open_start: datetime | None = None

    def heartbeat(self, at: datetime, status: str) -> None:
        self.beats.append((at, status))
        self.last_status = deadline.status_after_heartbeat(self.last_status, status)

    def signal(self, action: JobAction, at: datetime) -> None:
        self.beats.append((at, HEARTBEAT_STATUS[action]))
        if action == JobAction.START:
            self.open_start = self.open_start or at
        else:
            self.open_start = None  # the cases run one job at a time
        self.last_status = status_after_signal(action, previous_status=self.last_status,
                                               run_open=self.open_start is not None)

    def due(self, fresh_window_from: datetime | None = None) -> float:
        good = [at for at, status in reversed(self.beats) if status in GOOD_STATUSES][: self.settings.threshold]
        return deadline.next_due(
            self.settings,
            deadline.Signals(
                newest_status=self.beats[-1][1] if self.beats else None,
                good_times_newest_first=good,
                last_status=self.last_status,
                oldest_open_start=self.open_start,
                fresh_window_from=fresh_window_from,
            ),
        )


# A run limit (max_duration_seconds) is set except in "none" and "*_no_limit".
JOB_STATES = ("none", "limit_unused", "running", "running_no_limit", "overdue", "failed", "failed_no_limit",
              "failed_restarted", "completed")


def _arrange(engine, clock, threshold: int, job: str) -> tuple[int, Expected]:
    """A service with history: two UP heartbeats, then the job state asked for."""
    limit = None if job == "none" or job.endswith("_no_limit") else LIMIT
    values = {"heartbeat_name": "svc", "service_name": "s", "alert_interval": WINDOW_MINUTES,
              "grace_period_seconds": 0, "threshold": threshold, "max_duration_seconds": limit}
    created = clock()
    with engine.begin() as conn:
        row, _ = svc.create(conn, values, created)
    expected = Expected(svc.settings_of({**values, "date_added": created}))
    for _ in range(2):
        clock.advance(seconds=10)
        with engine.begin() as conn:
            hb.record(conn, [hb.Beat("svc", "UP")], clock())
        expected.heartbeat(clock(), "UP")
    actions = {
        "running": [JobAction.START], "running_no_limit": [JobAction.START], "overdue": [JobAction.START],
        "failed": [JobAction.START, JobAction.FAIL], "failed_no_limit": [JobAction.START, JobAction.FAIL],
        "failed_restarted": [JobAction.FAIL, JobAction.START],
        "completed": [JobAction.START, JobAction.COMPLETE],
    }.get(job, [])
    for action in actions:
        clock.advance(seconds=10)
        with engine.begin() as conn:
            jobs.apply_signal(conn, row.service_id, jobs.Signal(action), clock())
        expected.signal(action, clock())
    clock.advance(seconds=LIMIT + 30 if job == "overdue" else 10)
    return row.service_id, expected


def _stored(engine, service_id: int):
    with engine.connect() as conn:
        return svc.get_by_id(conn, service_id)


def _send(engine, backend: str, path: str, status: str, now: datetime) -> None:
    if path == "autocommit":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            [result] = transactions.write_autocommit(conn, [hb.Beat("svc", status)], now)
    else:
        with engine.begin() as conn:
            [result] = hb.record(conn, [hb.Beat("svc", status)], now)
    assert isinstance(result, hb.Stored)


@pytest.mark.parametrize("path", ["batch", "autocommit"])
@pytest.mark.parametrize(
    "status, threshold, job", list(itertools.product(("UP", "DEGRADED", "DOWN"), (1, 3), JOB_STATES))
)
def test_a_heartbeat_stores_what_next_due_says(engine, backend, clock, path, status, threshold, job):
    if path == "autocommit" and backend != "postgresql":
        pytest.skip("the autocommit statement is PostgreSQL's")
    service_id, expected = _arrange(engine, clock, threshold, job)
    _send(engine, backend, path, status, clock())
    expected.heartbeat(clock(), status)
    row = _stored(engine, service_id)
    assert (row.deadline, row.last_status) == (pytest.approx(expected.due()), expected.last_status)


def test_the_fast_path_is_taken_only_where_it_agrees(engine, clock):
    """Threshold 1 without a run limit: the statement's own CASE (no recount) is the answer."""
    service_id, expected = _arrange(engine, clock, 1, "none")
    assert not deadline.needs_recount(expected.settings.threshold, expected.settings.max_duration_seconds)
    with engine.begin() as conn:
        _, params = hb._batch_params([hb.Beat("svc", "UP")], clock())
        rows = conn.execute(hb._sqlite_batch(1), {**params, "n0": "svc", "s0": "UP"}).all()
    expected.heartbeat(clock(), "UP")
    assert len(rows) == 1
    assert _stored(engine, service_id).deadline == pytest.approx(expected.due())


CHANGES = [
    {"grace_period_seconds": 45},
    {"alert_interval": 1},
    {"threshold": 2},
    {"max_duration_seconds": 30},
    {"max_duration_seconds": None},
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("job", JOB_STATES)
def test_a_settings_change_stores_what_next_due_says(engine, clock, job, change):
    service_id, expected = _arrange(engine, clock, 1, job)
    with engine.begin() as conn:
        svc.update_service(conn, svc.get_by_id(conn, service_id), change, clock())
    fields = {**expected.settings.__dict__, **change}
    expected.settings = deadline.Settings(**fields)
    row = _stored(engine, service_id)
    assert (row.deadline, row.last_status) == (pytest.approx(expected.due()), expected.last_status)
    # ... and a heartbeat afterwards follows the new settings.
    clock.advance(seconds=5)
    _send(engine, "", "batch", "UP", clock())
    expected.heartbeat(clock(), "UP")
    assert _stored(engine, service_id).deadline == pytest.approx(expected.due())


@pytest.mark.parametrize("job", ["none", "running", "failed"])
def test_unmute_and_reactivation_store_what_next_due_says(engine, clock, job):
    service_id, expected = _arrange(engine, clock, 3, job)
    with engine.begin() as conn:
        svc.update_service(conn, svc.get_by_id(conn, service_id), {"muted": True}, clock())
    clock.advance(seconds=5)
    _send(engine, "", "batch", "UP", clock())  # a muted service's deadline keeps moving
    expected.heartbeat(clock(), "UP")
    clock.advance(seconds=5)
    with engine.begin() as conn:
        svc.update_service(conn, svc.get_by_id(conn, service_id), {"muted": False}, clock())
    assert _stored(engine, service_id).deadline == pytest.approx(expected.due())

    with engine.begin() as conn:
        svc.update_service(conn, svc.get_by_id(conn, service_id), {"active": False}, clock())
    clock.advance(minutes=30)
    with engine.begin() as conn:
        svc.update_service(conn, svc.get_by_id(conn, service_id), {"active": True}, clock())
    assert _stored(engine, service_id).deadline == pytest.approx(expected.due(fresh_window_from=clock()))


# Cron services: the batch statement leaves their deadline alone and the recount stores
# next_due's, with the newest success (a heartbeat or a completed run, never a start).
CRON = {"cron": "*/10 * * * *", "timezone": "Europe/Berlin", "grace_period_seconds": 60}


@pytest.mark.parametrize("path", ["batch", "autocommit"])
@pytest.mark.parametrize("status", ["UP", "DEGRADED", "DOWN"])
@pytest.mark.parametrize("job", ["none", "running", "completed", "failed"])
def test_a_cron_heartbeat_stores_what_next_due_says(engine, backend, clock, path, status, job):
    if path == "autocommit" and backend != "postgresql":
        pytest.skip("the autocommit statement is PostgreSQL's")
    values = {"heartbeat_name": "svc", "service_name": "s", "alert_interval": 10, "threshold": 1,
              "max_duration_seconds": LIMIT, **CRON}
    created = clock()
    with engine.begin() as conn:
        row, _ = svc.create(conn, values, created)
    settings = svc.settings_of({**values, "date_added": created})
    assert settings.cron is not None and deadline.needs_recount(1, None, settings.cron.expression)
    last_success, last_status, open_start = None, None, None
    for action in {"none": [], "running": [JobAction.START], "completed": [JobAction.START, JobAction.COMPLETE],
                   "failed": [JobAction.START, JobAction.FAIL]}[job]:
        clock.advance(minutes=3)
        with engine.begin() as conn:
            jobs.apply_signal(conn, row.service_id, jobs.Signal(action), clock())
        open_start = clock() if action == JobAction.START else None
        last_success = clock() if action == JobAction.COMPLETE else last_success
        last_status = status_after_signal(action, previous_status=last_status, run_open=open_start is not None)
    clock.advance(minutes=4)
    _send(engine, backend, path, status, clock())
    if status in GOOD_STATUSES:
        last_success = clock()
    last_status = deadline.status_after_heartbeat(last_status, status)
    expected = deadline.next_due(settings, deadline.Signals(
        newest_status=status, last_status=last_status, oldest_open_start=open_start, last_success=last_success))
    stored = _stored(engine, service_id=row.service_id)
    assert (stored.deadline, stored.last_status) == (pytest.approx(expected), last_status)
    assert stored.last_success_at == last_success


# Hysteresis (core/hysteresis.py): the statements keep the deadline of a service with
# failures_to_open or successes_to_close above 1, DOWN included; the recount stores next_due's.
@pytest.mark.parametrize("path", ["batch", "autocommit"])
@pytest.mark.parametrize("status", ["UP", "DOWN"])
def test_a_hysteresis_heartbeat_is_recounted_on_both_paths(engine, backend, clock, path, status):
    if path == "autocommit" and backend != "postgresql":
        pytest.skip("the autocommit statement is PostgreSQL's")
    values = {"heartbeat_name": "svc", "service_name": "s", "alert_interval": 10, "threshold": 1,
              "grace_period_seconds": 30, "failures_to_open": 3}
    with engine.begin() as conn:
        row, _ = svc.create(conn, values, clock())
    assert deadline.needs_recount(1, None, None, 3, 1) and not deadline.needs_recount(1, None, None, 1, 1)
    clock.advance(minutes=1)
    good = clock()
    _send(engine, backend, path, "UP", good)
    clock.advance(minutes=1)
    _send(engine, backend, path, status, clock())
    newest_good = clock() if status == "UP" else good  # one DOWN of three: the silence rule stands
    assert _stored(engine, row.service_id).deadline == pytest.approx(newest_good.timestamp() + 3 * (600 + 30))
