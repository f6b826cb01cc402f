"""The maintenance window rules (core/maintenance.py): scope, one-off and recurring spans
across daylight saving, and the validation the API answers 400 with."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from medic.core import schedule
from medic.core.maintenance import MaintenanceError, Scope, Window, check_scope, check_times, window_at

UTC = timezone.utc


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sundays_berlin(**extra) -> Window:
    """Sundays 02:00-04:00 Europe/Berlin."""
    return Window(1, Scope(team="db"), cron=schedule.parse("0 2 * * 0", "Europe/Berlin"),
                  duration=timedelta(minutes=120), **extra)


def test_scope_kinds():
    assert Scope(service_ids=frozenset({1, 2})).covers(2, "any", None)
    assert not Scope(service_ids=frozenset({1, 2})).covers(3, "any", None)
    assert Scope(team="db").covers(7, "db", None) and not Scope(team="db").covers(7, "web", None)
    labels = Scope(labels={"env": "prod", "tier": "db"})
    assert labels.covers(7, "x", {"env": "prod", "tier": "db", "zone": "a"})
    assert not labels.covers(7, "x", {"env": "prod"}) and not labels.covers(7, "x", None)
    assert not Scope().covers(1, "db", {"a": "b"})  # no scope covers nothing


def test_one_off_span_is_start_inclusive_end_exclusive_and_cut_when_ended():
    window = Window(1, Scope(team="db"), start=at(2026, 1, 5, 12), end=at(2026, 1, 5, 14))
    assert window.span_at(at(2026, 1, 5, 11, 59, 59)) is None
    assert window.span_at(at(2026, 1, 5, 12)) == (at(2026, 1, 5, 12), at(2026, 1, 5, 14))
    assert window.span_at(at(2026, 1, 5, 14)) is None
    ended = Window(1, Scope(team="db"), start=at(2026, 1, 5, 12), end=at(2026, 1, 5, 14), ended_at=at(2026, 1, 5, 13))
    assert ended.span_at(at(2026, 1, 5, 12, 30))[1] == at(2026, 1, 5, 13)
    assert ended.span_at(at(2026, 1, 5, 13)) is None
    assert ended.is_over(at(2026, 1, 5, 13)) and not window.is_over(at(2026, 1, 5, 13))


def test_recurring_window_follows_local_time_across_daylight_saving():
    window = sundays_berlin()
    # Winter (CET, UTC+1): 02:00-04:00 local is 01:00-03:00 UTC.
    assert window.span_at(at(2026, 1, 4, 0, 59)) is None
    assert window.span_at(at(2026, 1, 4, 1, 0)) == (at(2026, 1, 4, 1), at(2026, 1, 4, 3))
    assert window.span_at(at(2026, 1, 4, 3, 0)) is None
    assert window.span_at(at(2026, 1, 5, 1, 30)) is None  # a Monday
    # Summer (CEST, UTC+2): 00:00-02:00 UTC.
    assert window.span_at(at(2026, 7, 5, 0, 30)) == (at(2026, 7, 5, 0), at(2026, 7, 5, 2))
    assert window.span_at(at(2026, 7, 5, 2, 30)) is None
    # Spring forward (29 March 2026): 02:00 does not exist; cron runs it at 03:00 CEST (01:00 UTC).
    assert window.span_at(at(2026, 3, 29, 1, 30)) == (at(2026, 3, 29, 1), at(2026, 3, 29, 3))
    assert window.span_at(at(2026, 3, 29, 0, 30)) is None
    assert window.next_start(at(2026, 1, 5)) == at(2026, 1, 11, 1)


def test_overlapping_occurrences_make_one_span():
    window = Window(1, Scope(team="db"), cron=schedule.parse("0 * * * *"), duration=timedelta(minutes=90))
    start, end = window.span_at(at(2026, 1, 5, 12, 10))
    assert start <= at(2026, 1, 5, 12, 10) and end - at(2026, 1, 5, 12, 10) > timedelta(days=1)


def test_window_at_picks_the_window_ending_last_among_those_covering_the_service():
    short = Window(1, Scope(team="db"), start=at(2026, 1, 5, 12), end=at(2026, 1, 5, 13))
    long = Window(2, Scope(labels={"env": "prod"}), start=at(2026, 1, 5, 12), end=at(2026, 1, 5, 15))
    other = Window(3, Scope(team="web"), start=at(2026, 1, 5, 12), end=at(2026, 1, 5, 18))
    found = window_at([short, long, other], 9, "db", {"env": "prod"}, at(2026, 1, 5, 12, 30))
    assert found == (long, at(2026, 1, 5, 15))
    assert window_at([short, long, other], 9, "db", None, at(2026, 1, 5, 12, 30)) == (short, at(2026, 1, 5, 13))
    assert window_at([short, long, other], 9, "ops", None, at(2026, 1, 5, 12, 30)) is None


NOW = at(2026, 1, 5, 12)


@pytest.mark.parametrize("times, field", [
    ({"start": NOW, "end": NOW - timedelta(hours=1)}, "end"),
    ({"start": NOW - timedelta(hours=2), "end": NOW - timedelta(hours=1)}, "end"),
    ({}, "end"),
    ({"start": NOW, "end": NOW + timedelta(days=400)}, "end"),
    ({"end": NOW + timedelta(hours=1), "cron": "0 2 * * 0", "duration_minutes": 60}, "cron"),
    ({"cron": "0 2 * * 0"}, "duration_minutes"),
    ({"duration_minutes": 60}, "cron"),
    ({"cron": "0 2 * * 0", "duration_minutes": 0}, "duration_minutes"),
    ({"cron": "0 2 * *", "duration_minutes": 60}, "cron"),
    ({"cron": "0 2 * * 0", "timezone": "Mars/Olympus", "duration_minutes": 60}, "timezone"),
])
def test_invalid_times_name_the_field(times, field):
    given = {"start": None, "end": None, "cron": None, "timezone": None, "duration_minutes": None, **times}
    with pytest.raises(MaintenanceError) as caught:
        check_times(**given, now=NOW)
    assert caught.value.field == field


def test_valid_times():
    assert check_times(start=None, end=NOW + timedelta(hours=1), cron=None, timezone=None, duration_minutes=None,
                       now=NOW) is None
    cron = check_times(start=None, end=None, cron="0 2 * * 0", timezone="Europe/Berlin", duration_minutes=120, now=NOW)
    assert cron == schedule.Cron("0 2 * * 0", "Europe/Berlin")


def test_scope_needs_exactly_one_kind():
    check_scope(services=["a"], team=None, labels=None)
    with pytest.raises(MaintenanceError, match="needs a scope"):
        check_scope(services=None, team=None, labels={})
    with pytest.raises(MaintenanceError, match="not services and team") as caught:
        check_scope(services=["a"], team="db", labels=None)
    assert caught.value.field == "team"


def test_a_recurring_window_ended_early_has_no_more_occurrences():
    window = sundays_berlin(ended_at=at(2026, 1, 4, 2))
    assert window.span_at(at(2026, 1, 4, 1, 30)) == (at(2026, 1, 4, 1), at(2026, 1, 4, 2))  # cut at the end
    assert window.span_at(at(2026, 1, 11, 1, 30)) is None
    assert window.next_start(at(2026, 1, 5)) is None and window.is_over(at(2026, 1, 4, 2))
    assert not sundays_berlin().is_over(at(2030, 1, 1))
