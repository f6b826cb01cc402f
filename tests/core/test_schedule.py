"""Cron slots and the cron deadline rule, across daylight-saving changes in zones
with opposite transition dates (docs/schedules.md). Pure: no database, no clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from medic.core import deadline, schedule
from medic.core.model import JOB_FAILED, JOB_RUNNING, Status

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(cron: schedule.Cron, when: datetime) -> str:
    return when.astimezone(cron.zone).isoformat()


def slots(expr: str, zone: str, after: datetime, count: int) -> list[datetime]:
    return schedule.slots_after(schedule.parse(expr, zone), after, count)


# --- parsing -------------------------------------------------------------


@pytest.mark.parametrize("expr, field, words", [
    ("", "cron", "required"),
    ("0 3 * *", "cron", "has 4 fields"),
    ("61 3 * * *", "cron", "not a valid cron expression"),
    ("0 3 31 2 *", "cron", "not a valid"),
    ("@reboot", "cron", "unknown alias"),
    ("0 3 * * * *", "cron", "has 6 fields"),
])
def test_invalid_expressions_name_the_problem(expr, field, words):
    with pytest.raises(schedule.ScheduleError) as caught:
        schedule.parse(expr, "UTC")
    assert caught.value.field == field
    assert words in str(caught.value)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "Europe/Berlin "[:0] or "nope"])
def test_invalid_zones_are_refused(zone):
    with pytest.raises(schedule.ScheduleError) as caught:
        schedule.parse("0 3 * * *", zone)
    assert caught.value.field == "timezone"


def test_default_zone_is_utc_and_aliases_are_cron_aliases():
    cron = schedule.parse("@daily")
    assert cron.timezone == "UTC" and cron.fields == "0 0 * * *"
    assert schedule.parse("@hourly", "Europe/Berlin").fields == "0 * * * *"
    assert slots("@weekly", "UTC", utc(2026, 1, 5), 1) == [utc(2026, 1, 11)]  # a Sunday


def test_lists_ranges_and_steps():
    found = slots("0,30 9-10 * * 1-5", "UTC", utc(2026, 1, 9, 10, 15), 3)  # Friday
    assert found == [utc(2026, 1, 9, 10, 30), utc(2026, 1, 12, 9, 0), utc(2026, 1, 12, 9, 30)]
    assert slots("*/20 * * * *", "UTC", utc(2026, 1, 5, 12, 1), 2) == [utc(2026, 1, 5, 12, 20), utc(2026, 1, 5, 12, 40)]


def test_describe_in_words():
    assert schedule.describe(schedule.parse("0 3 * * *", "Europe/Berlin")) == "at 03:00 every day, Europe/Berlin"
    assert schedule.describe(schedule.parse("@hourly")) == "at the start of every hour, UTC"


# --- daylight saving: Debian cron's behaviour ---------------------------

# (zone, day of spring forward, day of fall back); Sydney's are in the other half of the year.
ZONES = [
    ("Europe/Berlin", (2026, 3, 29), (2026, 10, 25)),
    ("America/New_York", (2026, 3, 8), (2026, 11, 1)),
    ("Australia/Sydney", (2026, 10, 4), (2026, 4, 5)),
]


@pytest.mark.parametrize("zone, spring, fall", ZONES)
def test_daily_job_in_the_skipped_hour_runs_once_right_after_the_jump(zone, spring, fall):
    cron = schedule.parse("30 2 * * *", zone)
    day_before = datetime(*spring, tzinfo=cron.zone) - timedelta(days=1)
    found = schedule.slots_after(cron, day_before.replace(hour=12).astimezone(UTC), 3)
    assert [local(cron, s)[:16] for s in found] == [
        f"{spring[0]}-{spring[1]:02d}-{spring[2]:02d}T03:00",  # 02:30 does not exist that day
        (datetime(*spring) + timedelta(days=1)).strftime("%Y-%m-%dT02:30"),
        (datetime(*spring) + timedelta(days=2)).strftime("%Y-%m-%dT02:30"),
    ]


@pytest.mark.parametrize("zone, spring, fall", ZONES)
def test_daily_job_in_the_repeated_hour_runs_once(zone, spring, fall):
    # New York repeats 01:00-02:00; Berlin and Sydney repeat 02:00-03:00.
    hour = 1 if zone == "America/New_York" else 2
    cron = schedule.parse(f"30 {hour} * * *", zone)
    start = datetime(*fall, tzinfo=cron.zone).replace(hour=0).astimezone(UTC) - timedelta(hours=1)
    first, second = schedule.slots_after(cron, start, 2)
    assert (second - first) == timedelta(hours=25)  # once that day, then once the next
    assert first.astimezone(cron.zone).fold == 0  # the first of the two 0x:30s
    assert first.astimezone(cron.zone).hour == hour and first.astimezone(cron.zone).minute == 30


@pytest.mark.parametrize("zone, spring, fall", ZONES)
def test_hourly_job_follows_real_time(zone, spring, fall):
    cron = schedule.parse("0 * * * *", zone)
    for day, day_hours in ((spring, 23), (fall, 25)):
        start = datetime(*day, tzinfo=cron.zone).astimezone(UTC)
        found = schedule.slots_after(cron, start - timedelta(seconds=1), 30)
        next_day = datetime(*day, tzinfo=cron.zone) + timedelta(days=1)
        that_day = [s for s in found if s < next_day.replace(hour=0).astimezone(UTC)]
        assert len(that_day) == day_hours
        assert all(b - a == timedelta(hours=1) for a, b in zip(found, found[1:]))


def test_new_york_nightly_job_on_both_transitions_in_utc():
    cron = schedule.parse("30 2 * * *", "America/New_York")
    assert schedule.next_slot(cron, utc(2026, 3, 8, 0)) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert schedule.next_slot(cron, utc(2026, 3, 8, 8)) == utc(2026, 3, 9, 6, 30)
    assert schedule.next_slot(cron, utc(2026, 10, 31, 12)) == utc(2026, 11, 1, 7, 30)  # 02:30 EST, no repeat
    assert schedule.next_slot(cron, utc(2026, 11, 1, 8)) == utc(2026, 11, 2, 7, 30)


# --- the cron deadline ---------------------------------------------------

ADDED = utc(2026, 3, 20, 12)


def settings(expr="0 3 * * *", zone="Europe/Berlin", grace=600, **extra) -> deadline.Settings:
    return deadline.Settings(
        alert_interval=1440, grace_period_seconds=grace, threshold=1,
        max_duration_seconds=extra.pop("max_runtime", None), date_added=ADDED,
        cron=schedule.parse(expr, zone), **extra,
    )


def due(s: deadline.Settings, **signals) -> datetime:
    return datetime.fromtimestamp(deadline.next_due(s, deadline.Signals(**signals)), UTC)


def test_before_any_success_the_first_slot_after_registration_is_expected():
    assert due(settings()) == utc(2026, 3, 21, 2, 10)  # 03:00 CET + 10 min grace


def test_success_meets_its_slot_and_the_next_one_is_expected_across_spring_forward():
    # Met on time on the 28th (CET); the 29th's 03:00 is CEST, one hour earlier in UTC.
    assert due(settings(), last_success=utc(2026, 3, 28, 2, 1)) == utc(2026, 3, 29, 1, 10)


def test_late_success_within_grace_meets_its_own_slot_not_the_next():
    assert due(settings(), last_success=utc(2026, 3, 25, 2, 9)) == utc(2026, 3, 26, 2, 10)


def test_slot_met_early_after_the_previous_slot():
    # At 02:50 local, before 03:00: counts for 03:00 of that day.
    assert due(settings(), last_success=utc(2026, 3, 25, 1, 50)) == utc(2026, 3, 26, 2, 10)


def test_success_after_grace_is_for_the_next_slot():
    # 03:30 local on the 25th: too late for the 25th, early for the 26th.
    assert due(settings(), last_success=utc(2026, 3, 25, 2, 30)) == utc(2026, 3, 27, 2, 10)


def test_fall_back_nightly_job_in_sydney():
    # Sydney leaves DST on 5 April 2026: 03:00 AEDT (16:00 UTC) then 03:00 AEST (17:00 UTC).
    s = settings("0 3 * * *", "Australia/Sydney", grace=0)
    assert due(s, last_success=utc(2026, 4, 3, 16, 0)) == utc(2026, 4, 4, 17, 0)


def test_job_running_across_midnight():
    s = settings("0 23 * * *", "UTC", grace=2 * 3600)
    started = utc(2026, 3, 24, 23, 0)
    assert due(s, last_success=utc(2026, 3, 24, 0, 30), last_status=JOB_RUNNING,
               oldest_open_start=started) == utc(2026, 3, 25, 1, 0)
    # Completed at 00:30 the next day: late for the 23:00 slot, tomorrow's is expected.
    assert due(s, last_success=utc(2026, 3, 25, 0, 30)) == utc(2026, 3, 26, 1, 0)


def test_zone_change_moves_the_expected_slot():
    met = utc(2026, 3, 24, 2, 0)
    assert due(settings(zone="Europe/Berlin"), last_success=met) == utc(2026, 3, 25, 2, 10)
    # 22:00 in New York the evening before: it meets New York's 03:00 early.
    assert due(settings(zone="America/New_York"), last_success=met) == utc(2026, 3, 25, 7, 10)


def test_start_margin_max_runtime():
    s = settings(grace=3600, start_margin_seconds=300, max_runtime=1200)
    met = utc(2026, 3, 24, 2, 30)
    assert due(s, last_success=met) == utc(2026, 3, 25, 2, 5)  # late to start after 5 min
    started = utc(2026, 3, 25, 2, 3)
    assert due(s, last_success=met, last_status=JOB_RUNNING, oldest_open_start=started) == utc(2026, 3, 25, 2, 23)
    # Without max_runtime, a started run has the whole grace.
    s = settings(grace=3600, start_margin_seconds=300)
    assert due(s, last_success=met, last_status=JOB_RUNNING, oldest_open_start=started) == utc(2026, 3, 25, 3, 0)


def test_down_and_failed_are_unhealthy_at_once():
    assert deadline.next_due(settings(), deadline.Signals(newest_status=Status.DOWN)) == deadline.UNHEALTHY
    assert deadline.next_due(settings(), deadline.Signals(last_status=JOB_FAILED)) == deadline.UNHEALTHY


def test_reactivation_expects_the_first_slot_after_it():
    back = utc(2026, 4, 1, 12)
    assert due(settings(), last_success=utc(2026, 3, 21, 2), fresh_window_from=back) == utc(2026, 4, 2, 1, 10)


def test_interval_services_are_unchanged():
    plain = deadline.Settings(alert_interval=5, grace_period_seconds=30, threshold=1,
                              max_duration_seconds=None, date_added=ADDED)
    beat = ADDED + timedelta(minutes=7)
    assert deadline.next_due(plain, deadline.Signals(good_times_newest_first=[beat],
                                                     last_success=beat + timedelta(hours=9))) == beat.timestamp() + 330


def test_slot_met_by_and_outcomes():
    cron = schedule.parse("0 3 * * *", "Europe/Berlin")
    slot = utc(2026, 3, 25, 2)
    assert schedule.slot_met_by(cron, utc(2026, 3, 25, 1, 59), 600) == slot
    assert schedule.met_outcome(slot, utc(2026, 3, 25, 1, 59)) == schedule.SlotOutcome.ON_TIME
    assert schedule.met_outcome(slot, utc(2026, 3, 25, 2, 5)) == schedule.SlotOutcome.LATE
