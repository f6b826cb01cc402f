"""The health rules (docs/alerting.md, "Alert rules"), without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from medic.core.health import deadline_for, is_healthy, open_reason, state_of
from medic.core.model import OpenReason, ServiceState

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def deadline(**kw):
    args = dict(
        date_added=T0,
        alert_interval=5,
        grace_period_seconds=0,
        threshold=1,
        newest_status=None,
        newest_time=None,
        good_times_newest_first=[],
    )
    args.update(kw)
    return deadline_for(**args)


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
    d = deadline(newest_status="UP", newest_time=beat, good_times_newest_first=[beat])
    assert is_healthy(d, beat + timedelta(minutes=4))
    assert not is_healthy(d, beat + timedelta(minutes=5, seconds=1))


def test_degraded_counts_as_good():
    beat = T0 + timedelta(minutes=10)
    d = deadline(newest_status="DEGRADED", newest_time=beat, good_times_newest_first=[beat])
    assert is_healthy(d, beat + timedelta(minutes=1))


def test_newest_down_is_unhealthy_at_once():
    beat = T0 + timedelta(minutes=10)
    earlier = [beat - timedelta(seconds=10)]
    d = deadline(newest_status="DOWN", newest_time=beat, good_times_newest_first=earlier)
    assert not is_healthy(d, beat)
    # ... even to a worker whose clock reads earlier than the web host that stamped it.
    assert not is_healthy(d, beat - timedelta(seconds=5))


def test_threshold_needs_that_many_in_window():
    base = T0 + timedelta(hours=1)
    times = [base, base - timedelta(minutes=2), base - timedelta(minutes=4)]
    d = deadline(threshold=3, newest_status="UP", newest_time=base, good_times_newest_first=times)
    # The third-newest was 4 minutes before `base`: healthy until it leaves the 5-minute window.
    assert is_healthy(d, base + timedelta(seconds=59))
    assert not is_healthy(d, base + timedelta(minutes=1))


def test_threshold_not_reached_within_first_window_does_not_alert_early():
    beat = T0 + timedelta(minutes=1)
    d = deadline(threshold=3, newest_status="UP", newest_time=beat, good_times_newest_first=[beat])
    assert is_healthy(d, T0 + timedelta(minutes=4))
    assert not is_healthy(d, T0 + timedelta(minutes=5))


def test_open_reasons():
    assert open_reason(None, None) is OpenReason.NEVER_REPORTED
    assert open_reason(T0, "DOWN") is OpenReason.REPORTED_DOWN
    assert open_reason(T0, "UP") is OpenReason.MISSED_HEARTBEATS


def test_state_precedence():
    assert state_of(active=False, muted=True, down=True, last_heartbeat_at=T0) is ServiceState.INACTIVE
    assert state_of(active=True, muted=True, down=True, last_heartbeat_at=T0) is ServiceState.MUTED
    assert state_of(active=True, muted=False, down=True, last_heartbeat_at=T0) is ServiceState.DOWN
    assert state_of(active=True, muted=False, down=False, last_heartbeat_at=None) is ServiceState.NEW
    assert state_of(active=True, muted=False, down=False, last_heartbeat_at=T0) is ServiceState.UP
