"""The worker's rule book (core.transitions.decide) and the retry policy, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from medic.core.delivery import MAX_RETRY_SECONDS, retry_delay
from medic.core.deadline import UNHEALTHY
from medic.core.transitions import Action, Candidate, auto_unmute_cutoff, decide, mute_end, mute_expired, parse_mute_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HEALTHY = NOW.timestamp() + 60
OVERDUE = NOW.timestamp() - 1

BASE = Candidate(
    service_id=1, heartbeat_name="a-hb", service_name="a", team="t", priority="p3", runbook=None,
    alert_interval=1, threshold=1, grace_period_seconds=0, active=True, muted=False, down=False,
    deadline=HEALTHY, last_heartbeat_at=NOW - timedelta(seconds=30), last_status="UP",
)


def act(**changes):
    decision = decide(replace(BASE, **changes), NOW)
    return (decision.action, decision.reason) if decision else None


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({}, None),  # healthy and up
        ({"deadline": OVERDUE}, (Action.OPEN, "missed_heartbeats")),
        ({"deadline": UNHEALTHY, "last_status": "DOWN"}, (Action.OPEN, "reported_down")),
        ({"deadline": OVERDUE, "last_heartbeat_at": None, "last_status": None}, (Action.OPEN, "never_reported")),
        ({"deadline": UNHEALTHY, "last_status": "FAILED"}, (Action.OPEN, "job_failed")),
        ({"deadline": OVERDUE, "last_status": "RUNNING"}, (Action.OPEN, "job_overdue")),
        ({"deadline": OVERDUE, "muted": True}, None),  # muted: silent
        ({"deadline": OVERDUE, "active": False}, None),  # inactive: nothing to page
        ({"deadline": OVERDUE, "down": True}, None),  # already paged: no second page
        ({"down": True}, (Action.CLOSE, "recovered")),
        ({"down": True, "muted": True}, (Action.CLOSE, "recovered")),  # a resolve wakes nobody
        ({"down": True, "active": False, "deadline": OVERDUE}, (Action.CLOSE, "deactivated")),
    ],
)
def test_decide(changes, expected):
    assert act(**changes) == expected


def test_deadline_is_exclusive():
    assert act(deadline=NOW.timestamp()) == (Action.OPEN, "missed_heartbeats")
    assert act(deadline=NOW.timestamp() + 0.001) is None


def test_reminders_follow_the_cadence_and_skip_muted_services():
    every = timedelta(minutes=30)
    down = replace(BASE, down=True, deadline=OVERDUE, alert_id=7, alert_created=NOW - timedelta(minutes=30))
    assert decide(down, NOW, every).action is Action.REMIND
    assert decide(down, NOW, None) is None  # off by default
    assert decide(replace(down, last_reminded_at=NOW - timedelta(minutes=29)), NOW, every) is None
    assert decide(replace(down, muted=True), NOW, every) is None


def test_auto_unmute_cutoff():
    assert auto_unmute_cutoff(NOW, 24) == NOW - timedelta(hours=24)


def test_retry_delay_grows_with_jitter_and_is_capped():
    assert 1.0 <= retry_delay(1, None, 0.0) <= retry_delay(1, None, 1.0) == 2.0
    assert retry_delay(2, None, 1.0) == 4.0
    assert retry_delay(30, None, 1.0) == MAX_RETRY_SECONDS
    assert retry_delay(30, None, 0.0) == MAX_RETRY_SECONDS / 2


def test_retry_after_wins_when_longer():
    assert retry_delay(1, 20, 0.5) == 20
    assert retry_delay(5, 1, 1.0) == 32.0  # backoff already longer
    assert retry_delay(1, 10**9, 0.0) == 3600  # a provider cannot park a page for days


def test_mute_durations_and_ends():
    assert [parse_mute_for(t) for t in ("30m", "2h", "1d")] == [timedelta(minutes=30), timedelta(hours=2), timedelta(days=1)]
    for bad in ("", "2", "h", "0m", "1.5h", "2 h", "1w", "366d", "-1h"):
        with pytest.raises(ValueError):
            parse_mute_for(bad)
    assert mute_end(NOW, 24) == NOW + timedelta(hours=24)
    assert mute_end(NOW, 24, mute_for=timedelta(hours=2)) == NOW + timedelta(hours=2)
    assert mute_end(NOW, 24, muted_until=NOW + timedelta(minutes=5)) == NOW + timedelta(minutes=5)


def test_a_mute_expires_at_its_end_else_after_the_default():
    until = NOW + timedelta(hours=2)
    assert not mute_expired(NOW + timedelta(hours=1, minutes=59), 24, date_muted=NOW, muted_until=until)
    assert mute_expired(until, 24, date_muted=NOW, muted_until=until)
    # Muted before muted_until existed: AUTO_UNMUTE_HOURS after date_muted.
    assert not mute_expired(NOW + timedelta(hours=23), 24, date_muted=NOW, muted_until=None)
    assert mute_expired(NOW + timedelta(hours=24), 24, date_muted=NOW, muted_until=None)
