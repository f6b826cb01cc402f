"""The pure job rules (core.jobs), without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from medic.core.deadline import UNHEALTHY, Settings, Signals, next_due
from medic.core.health import open_reason
from medic.core.jobs import (
    HEARTBEAT_STATUS,
    JobAction,
    duration_seconds,
    duration_stats,
    millisecond_stats,
    status_after_signal,
)
from medic.core.model import GOOD_STATUSES, JOB_FAILED, JOB_RUNNING, OpenReason

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
WINDOW = 3600.0


@dataclass(frozen=True)
class Health:
    deadline: float
    last_status: str


def after(action, *, max_duration_seconds=None, oldest_open_start=None, previous_status="UP"):
    """A signal at T0 to a threshold-1 service with a 60-minute window."""
    action = JobAction(action)
    status = status_after_signal(action, previous_status=previous_status, run_open=oldest_open_start is not None)
    beat = HEARTBEAT_STATUS[action]
    settings = Settings(alert_interval=60, grace_period_seconds=0, threshold=1,
                        max_duration_seconds=max_duration_seconds, date_added=T0 - timedelta(days=1))
    signals = Signals(newest_status=beat, good_times_newest_first=[T0] if beat in GOOD_STATUSES else [],
                      last_status=status, oldest_open_start=oldest_open_start)
    return Health(next_due(settings, signals), status)


def test_durations_known_and_unknown():
    assert duration_seconds(T0, T0 + timedelta(minutes=2, milliseconds=500)) == 120.5
    assert duration_seconds(None, T0) is None  # closed without a start


def test_stats_of_one_to_a_hundred_interpolate_between_ranks():
    stats = duration_stats([float(n) for n in range(100, 0, -1)])  # order does not matter
    assert stats.count == 100
    assert stats.avg == 50.5
    assert stats.p50 == 50.5
    assert stats.p95 == pytest.approx(95.05)
    assert stats.p99 == pytest.approx(99.01)
    assert (stats.min, stats.max) == (1.0, 100.0)


def test_stats_of_four_runs():
    stats = duration_stats([40.0, 10.0, 30.0, 20.0])
    assert (stats.p50, stats.avg) == (25.0, 25.0)
    assert stats.p95 == pytest.approx(38.5)
    assert stats.p99 == pytest.approx(39.7)


def test_stats_of_one_and_of_none():
    one = duration_stats([7.0])
    assert (one.count, one.avg, one.p50, one.p99, one.min, one.max) == (1, 7.0, 7.0, 7.0, 7.0, 7.0)
    empty = duration_stats([])
    assert empty.count == 0 and empty.avg is None and empty.p95 is None and empty.max is None


def test_original_millisecond_keys_need_five_durations():
    four = millisecond_stats(duration_stats([0.5, 1.0, 1.5, 2.0]))
    assert four == {
        "run_count": 4, "avg_duration_ms": None, "p50_duration_ms": None, "p95_duration_ms": None,
        "p99_duration_ms": None, "min_duration_ms": None, "max_duration_ms": None,
    }
    five = millisecond_stats(duration_stats([0.5, 1.0, 1.5, 2.0, 2.9999999]))
    assert five["run_count"] == 5 and five["avg_duration_ms"] == 1600.0
    assert (five["p50_duration_ms"], five["min_duration_ms"], five["max_duration_ms"]) == (1500, 500, 3000)
    assert millisecond_stats(duration_stats([]))["run_count"] == 0


def test_start_without_max_duration_is_a_heartbeat():
    health = after("start", oldest_open_start=T0)
    assert health.deadline == T0.timestamp() + WINDOW
    assert health.last_status == JOB_RUNNING


def test_start_with_max_duration_caps_the_deadline():
    health = after("start", oldest_open_start=T0, max_duration_seconds=600)
    assert health.deadline == T0.timestamp() + 600
    # A max_duration longer than the window leaves the window in charge.
    assert after("start", oldest_open_start=T0, max_duration_seconds=7200).deadline == T0.timestamp() + WINDOW


def test_older_open_run_keeps_its_own_limit():
    older = T0 - timedelta(minutes=8)
    health = after("complete", oldest_open_start=older, max_duration_seconds=600)
    assert health.deadline == older.timestamp() + 600
    assert health.last_status == JOB_RUNNING


def test_complete_with_nothing_open_is_up():
    health = after("complete", previous_status=JOB_FAILED)
    assert health.deadline == T0.timestamp() + WINDOW
    assert health.last_status == "UP"


def test_fail_is_unhealthy_at_once():
    health = after("fail", oldest_open_start=T0 - timedelta(seconds=5))
    assert health.deadline == UNHEALTHY  # before any clock's "now"
    assert health.last_status == JOB_FAILED


def test_start_after_a_failure_does_not_clear_it():
    health = after("start", oldest_open_start=T0, previous_status=JOB_FAILED)
    assert health.deadline == UNHEALTHY
    assert health.last_status == JOB_FAILED


def test_open_reasons_for_jobs():
    assert open_reason(T0, JOB_FAILED) == OpenReason.JOB_FAILED
    assert open_reason(T0, JOB_RUNNING) == OpenReason.JOB_OVERDUE
    assert open_reason(T0, "UP") == OpenReason.MISSED_HEARTBEATS
    assert open_reason(T0, "DOWN") == OpenReason.REPORTED_DOWN


def test_settings_change_keeps_job_state():
    def due(last_status, oldest_open_start):
        settings = Settings(alert_interval=60, grace_period_seconds=0, threshold=1, max_duration_seconds=600,
                            date_added=T0 - timedelta(days=1))
        return next_due(settings, Signals(newest_status="UP", good_times_newest_first=[T0], last_status=last_status,
                                          oldest_open_start=oldest_open_start))

    assert due(JOB_FAILED, None) == UNHEALTHY
    assert due(JOB_RUNNING, T0) == T0.timestamp() + 600
    assert due("UP", None) == T0.timestamp() + WINDOW
