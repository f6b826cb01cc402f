"""Medic's own outages as rules (core/gaps.py, core/deadline.py ``after_gap``,
core/schedule.py ``unmet_outcome``), without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from medic.core import schedule
from medic.core.deadline import NEVER, UNHEALTHY, Settings, after_gap
from medic.core.gaps import Gap, GapCause, cycle_gap_cause, cycle_gap_seconds, is_gap
from medic.core.schedule import SlotOutcome, unmet_outcome

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
GAP = Gap(T0, T0 + timedelta(minutes=10), GapCause.WEB)
INTERVAL = Settings(alert_interval=1, grace_period_seconds=30, threshold=1, max_duration_seconds=None, date_added=T0)


def at(**delta) -> float:
    return (T0 + timedelta(**delta)).timestamp()


def test_a_deadline_inside_the_gap_gets_a_fresh_window_from_its_end():
    end = GAP.end.timestamp()
    assert after_gap(INTERVAL, at(minutes=1), GAP) == end + 90
    assert after_gap(INTERVAL, at(minutes=10), GAP) == end + 90  # the end is inside


def test_other_deadlines_stand():
    for due in (at(minutes=-1), at(), at(minutes=10, seconds=1), UNHEALTHY, NEVER):  # the start is outside
        assert after_gap(INTERVAL, due, GAP) == due


def test_a_cron_service_expects_the_first_slot_after_the_gap():
    cron = Settings(alert_interval=1, grace_period_seconds=60, threshold=1, max_duration_seconds=None, date_added=T0,
                    cron=schedule.Cron("*/15 * * * *"), start_margin_seconds=20)
    slot = at(minutes=15)
    assert after_gap(cron, at(minutes=5), GAP) == slot + 20  # no run started: the start margin
    assert after_gap(cron, at(minutes=5), GAP, started=True) == slot + 60


def test_a_slot_the_gap_overlapped_is_unknown_not_missed():
    def outcome(minutes: int, grace: int = 60) -> SlotOutcome:
        return unmet_outcome(T0 + timedelta(minutes=minutes), grace, [GAP])

    assert outcome(-2) == SlotOutcome.MISSED  # closed before the gap
    assert outcome(-1) == SlotOutcome.MISSED  # closed at its start, when Medic was still up
    assert outcome(-1, grace=61) == SlotOutcome.UNKNOWN
    assert outcome(5) == SlotOutcome.UNKNOWN
    assert outcome(10) == SlotOutcome.UNKNOWN  # at the end: its signal may have been lost
    assert outcome(11) == SlotOutcome.MISSED
    assert unmet_outcome(T0 + timedelta(minutes=5), 60) == SlotOutcome.MISSED  # no gaps


def test_when_a_silence_is_a_gap():
    assert not is_gap(T0, T0 + timedelta(seconds=60), 60)
    assert is_gap(T0, T0 + timedelta(seconds=61), 60)
    assert cycle_gap_seconds(60, 15) == 60
    assert cycle_gap_seconds(60, 120) == 240  # cycles are only expected every two minutes
    assert cycle_gap_cause(None) == GapCause.WORKER
    assert cycle_gap_cause(T0) == GapCause.DATABASE
    assert GAP.seconds == 600
