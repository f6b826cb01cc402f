"""The deadline rule (core/deadline.py; docs/alerting.md, "Alert rules"), without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from medic.core.deadline import UNHEALTHY, Settings, Signals, next_due, status_after_heartbeat
from medic.core.health import is_healthy
from medic.core.model import JOB_FAILED, JOB_RUNNING

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def deadline(*, threshold=1, grace_period_seconds=0, max_duration_seconds=None, **signals):
    settings = Settings(
        alert_interval=5, grace_period_seconds=grace_period_seconds, threshold=threshold,
        max_duration_seconds=max_duration_seconds, date_added=T0,
    )
    return next_due(settings, Signals(**signals))


def test_new_service_has_one_window():
    d = deadline()
    assert is_healthy(d, T0 + timedelta(minutes=4, seconds=59))
    assert not is_healthy(d, T0 + timedelta(minutes=5))


def test_grace_period_extends_the_window():
    d = deadline(grace_period_seconds=30)
    assert is_healthy(d, T0 + timedelta(minutes=5, seconds=29))
    assert not is_healthy(d, T0 + timedelta(minutes=5, seconds=30))


def test_single_heartbeat_keeps_healthy_for_one_window():
    beat = T0 + timedelta(minutes=10)
    d = deadline(newest_status="UP", good_times_newest_first=[beat])
    assert is_healthy(d, beat + timedelta(minutes=4))
    assert not is_healthy(d, beat + timedelta(minutes=5, seconds=1))


def test_degraded_counts_as_good():
    beat = T0 + timedelta(minutes=10)
    d = deadline(newest_status="DEGRADED", good_times_newest_first=[beat])
    assert is_healthy(d, beat + timedelta(minutes=1))


def test_newest_down_is_unhealthy_at_once():
    beat = T0 + timedelta(minutes=10)
    earlier = [beat - timedelta(seconds=10)]
    d = deadline(newest_status="DOWN", good_times_newest_first=earlier)
    assert not is_healthy(d, beat)
    # ... even to a worker whose clock reads earlier than the web host that stamped it.
    assert not is_healthy(d, beat - timedelta(seconds=5))


def test_threshold_needs_that_many_in_window():
    base = T0 + timedelta(hours=1)
    times = [base, base - timedelta(minutes=2), base - timedelta(minutes=4)]
    d = deadline(threshold=3, newest_status="UP", good_times_newest_first=times)
    # The third-newest was 4 minutes before `base`: healthy until it leaves the 5-minute window.
    assert is_healthy(d, base + timedelta(seconds=59))
    assert not is_healthy(d, base + timedelta(minutes=1))


def test_threshold_not_reached_within_first_window_does_not_alert_early():
    beat = T0 + timedelta(minutes=1)
    d = deadline(threshold=3, newest_status="UP", good_times_newest_first=[beat])
    assert is_healthy(d, T0 + timedelta(minutes=4))
    assert not is_healthy(d, T0 + timedelta(minutes=5))


def test_a_failed_job_is_unhealthy_whatever_heartbeats_follow():
    beat = T0 + timedelta(minutes=10)
    assert deadline(newest_status="UP", good_times_newest_first=[beat], last_status=JOB_FAILED) == UNHEALTHY


def test_an_open_run_keeps_its_limit_after_later_heartbeats():
    start = T0 + timedelta(minutes=1)
    beat = T0 + timedelta(minutes=3)
    due = deadline(
        max_duration_seconds=60, newest_status="UP", good_times_newest_first=[beat],
        last_status=JOB_RUNNING, oldest_open_start=start,
    )
    assert due == start.timestamp() + 60
    # Without a limit the run is only a heartbeat.
    assert deadline(newest_status="UP", good_times_newest_first=[beat], oldest_open_start=start) == (
        beat.timestamp() + 300
    )


def test_reactivation_gives_a_fresh_window_even_after_down():
    back = T0 + timedelta(days=1)
    assert deadline(newest_status="DOWN", fresh_window_from=back) == back.timestamp() + 300


def test_a_plain_heartbeat_keeps_the_job_state():
    assert status_after_heartbeat(JOB_FAILED, "UP") == JOB_FAILED
    assert status_after_heartbeat(JOB_FAILED, "DOWN") == JOB_FAILED
    assert status_after_heartbeat(JOB_RUNNING, "DEGRADED") == JOB_RUNNING
    assert status_after_heartbeat(JOB_RUNNING, "DOWN") == "DOWN"
    assert status_after_heartbeat("UP", "DEGRADED") == "DEGRADED"
    assert status_after_heartbeat(None, "UP") == "UP"
