"""The hysteresis counts and their place in the deadline rule (core/hysteresis.py,
core/deadline.py), and the flapping rule (core/flapping.py): pure, no database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from medic.core import flapping, hysteresis, schedule
from medic.core.deadline import UNHEALTHY, Settings, Signals, next_due
from medic.core.model import JOB_FAILED, ChannelName, NotificationKind

UTC = timezone.utc
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WINDOW = 5 * 60 + 30


def settings(**extra) -> Settings:
    return Settings(alert_interval=5, grace_period_seconds=30, threshold=1, max_duration_seconds=None,
                    date_added=T0 - timedelta(days=1), **extra)


def test_defaults_are_the_rule_without_hysteresis():
    assert next_due(settings(), Signals(newest_status="UP", good_times_newest_first=[T0])) == T0.timestamp() + WINDOW
    assert next_due(settings(), Signals(newest_status="DOWN")) == UNHEALTHY
    assert next_due(settings(), Signals(last_status=JOB_FAILED)) == UNHEALTHY
    # An open alert with successes_to_close 1 closes on the rule as before.
    assert next_due(settings(), Signals(newest_status="UP", good_times_newest_first=[T0], down=True)) > 0


def test_failures_to_open_counts_windows_and_downs_in_a_row():
    three = settings(failures_to_open=3)
    beat = Signals(newest_status="UP", good_times_newest_first=[T0])
    assert next_due(three, beat) == T0.timestamp() + 3 * WINDOW
    two_downs = Signals(newest_status="DOWN", good_times_newest_first=[T0], downs_in_a_row=2)
    assert next_due(three, two_downs) == T0.timestamp() + 3 * WINDOW
    assert next_due(three, Signals(newest_status="DOWN", good_times_newest_first=[T0], downs_in_a_row=3)) == UNHEALTHY
    failed = Signals(newest_status="UP", good_times_newest_first=[T0], last_status=JOB_FAILED)
    assert next_due(three, Signals(**{**failed.__dict__, "failed_runs_in_a_row": 2})) > 0
    assert next_due(three, Signals(**{**failed.__dict__, "failed_runs_in_a_row": 3})) == UNHEALTHY


def test_successes_to_close_keeps_an_open_alert_unhealthy_until_enough():
    two = settings(successes_to_close=2)
    after_one = Signals(newest_status="UP", good_times_newest_first=[T0], down=True, successes_since_open=1)
    assert next_due(two, after_one) == UNHEALTHY
    after_two = Signals(newest_status="UP", good_times_newest_first=[T0], down=True, successes_since_open=2)
    assert next_due(two, after_two) == T0.timestamp() + WINDOW
    assert next_due(two, Signals(newest_status="UP", good_times_newest_first=[T0])) == T0.timestamp() + WINDOW


def test_cron_failures_count_slots():
    cron = schedule.Cron("0 3 * * *", "UTC")
    nightly = Settings(alert_interval=1440, grace_period_seconds=600, threshold=1, max_duration_seconds=None,
                       date_added=T0, cron=cron, failures_to_open=3)
    first = datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
    assert next_due(nightly, Signals()) == (first + timedelta(days=2, seconds=600)).timestamp()
    failed_second = Signals(newest_status="DOWN", failed_slot=first + timedelta(days=1))
    assert next_due(nightly, failed_second) == (first + timedelta(days=2, seconds=600)).timestamp()
    assert next_due(nightly, Signals(newest_status="DOWN", failed_slot=first + timedelta(days=2))) == UNHEALTHY
    assert hysteresis.slots_in_a_row(cron, [first + timedelta(days=2), first + timedelta(days=1)]) == 2
    assert hysteresis.slots_in_a_row(cron, [first + timedelta(days=2), first]) == 1  # a gap breaks the run


def test_flapping_counts_changes_in_the_window():
    rule = flapping.Rule(changes=3, minutes=10)
    now = T0.timestamp()
    changes = flapping.recent([now - 700, now - 500, now - 300, now - 100], now, rule)
    assert changes == [now - 500, now - 300, now - 100, now]  # the change 700 s ago fell out
    assert flapping.mode(False, changes, rule) == flapping.Mode.STARTS
    assert flapping.mode(False, changes[1:], rule) == flapping.Mode.NORMAL
    assert flapping.mode(True, [now], rule) == flapping.Mode.ONGOING
    assert flapping.mode(False, changes, flapping.Rule(changes=0, minutes=10)) == flapping.Mode.NORMAL  # off
    assert len(flapping.recent(list(range(100)), 150.0, flapping.Rule(3, 10))) == 4  # kept short


def test_flapping_notices_keep_one_pagerduty_incident():
    starts, pd, slack = flapping.Mode.STARTS, ChannelName.PAGERDUTY, ChannelName.SLACK
    assert flapping.kind_for(starts, NotificationKind.TRIGGER, pd) == NotificationKind.TRIGGER
    assert flapping.kind_for(starts, NotificationKind.RESOLVE, pd) is None
    assert flapping.kind_for(starts, NotificationKind.RESOLVE, slack) == NotificationKind.FLAPPING
    assert flapping.kind_for(flapping.Mode.ONGOING, NotificationKind.TRIGGER, slack) is None
    assert flapping.kind_for(flapping.Mode.NORMAL, NotificationKind.RESOLVE, pd) == NotificationKind.RESOLVE
    assert flapping.settled_kind(True) == NotificationKind.TRIGGER
    assert flapping.settled_kind(False) == NotificationKind.RESOLVE
