"""Interval windows and their outcomes (docs/schedules.md, "Slot history"). Pure: no
database, no clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from medic.core import windows
from medic.core.schedule import SlotOutcome as O
from medic.core.windows import Gap

UTC = timezone.utc
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FIVE = 300  # a 5-minute alert_interval, in seconds


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def gaps_of(successes: list[float], *, threshold: int = 1, registered: float = 0) -> list[Gap]:
    """The gaps the store would find for successes at these minutes."""
    times = [m(t) for t in successes]
    anchor = m(registered)
    out = [Gap(anchor, anchor, times[0] if times else None)]
    for i, at in enumerate(times):
        base = times[i - threshold + 1] if i >= threshold - 1 else anchor
        out.append(Gap(at, base, times[i + 1] if i + 1 < len(times) else None))
    return out


def outcomes(successes, *, count: int, grace: int = 0, threshold: int = 1, down=(), outages=()) -> list[str]:
    late, missed = windows.overdue_spans(gaps_of(successes, threshold=threshold), FIVE, grace)
    judged = windows.judge(T0, count, FIVE, missed=missed, late=late, down=list(down), outages=list(outages))
    assert [w.start for w in judged] == [m(5 * i) for i in range(count)]
    return [w.outcome.value for w in judged]


def test_windows_are_aligned_to_the_epoch():
    assert windows.align_down(datetime(2026, 1, 5, 12, 7, 30, tzinfo=UTC), FIVE) == m(5)
    assert windows.align_up(datetime(2026, 1, 5, 12, 7, 30, tzinfo=UTC), FIVE) == m(10)
    assert windows.align_up(m(10), FIVE) == m(10)
    day = windows.align_down(datetime(2026, 3, 29, 23, 59, tzinfo=UTC), 1440 * 60)
    assert day == datetime(2026, 3, 29, tzinfo=UTC)  # a 1440-minute service has UTC days


def test_beating_on_time_is_on_time_even_exactly_at_the_interval():
    assert outcomes([0, 5, 10, 15, 20], count=5) == ["on_time"] * 5
    assert outcomes([1, 4, 6, 9, 14, 18, 22], count=5) == ["on_time"] * 5


def test_a_silence_is_missed_from_the_deadline_until_the_next_success():
    # Beats until 10, then nothing until 27: overdue from 15 to 27.
    assert outcomes([0, 5, 10, 27, 30], count=7) == ["on_time", "on_time", "on_time", "missed", "missed",
                                                    "missed", "on_time"]
    # No success after 10 at all: missed for ever after.
    assert outcomes([0, 5, 10], count=5) == ["on_time", "on_time", "on_time", "missed", "missed"]


def test_past_the_interval_but_within_the_grace_is_late():
    # 6 minutes between successes: late with a 2-minute grace, missed without one.
    assert outcomes([0, 5, 11, 15], count=4, grace=120) == ["on_time", "on_time", "late", "on_time"]
    assert outcomes([0, 5, 11, 15], count=4) == ["on_time", "on_time", "missed", "on_time"]
    # A late stretch that crosses a boundary marks both windows it touches.
    assert outcomes([0, 4, 10.5, 12], count=3, grace=120) == ["on_time", "late", "late"]


def test_before_the_first_success_the_deadline_counts_from_registration():
    assert outcomes([], count=3, grace=60) == ["on_time", "missed", "missed"]
    assert outcomes([7, 11], count=3) == ["on_time", "missed", "on_time"]


def test_threshold_counts_from_the_threshold_th_newest_success():
    every_two = [0, 2, 4, 6, 8, 10, 12, 14, 16]
    assert outcomes(every_two, count=3, threshold=2) == ["on_time"] * 3
    # One success left out: from 6 the second newest is 4, due at 9, and the next comes at 10;
    # from 10 it is 6, due at 11, until 12.
    one_dropped = [0, 2, 4, 6, 10, 12, 14, 16, 18, 20]
    assert outcomes(one_dropped, count=4, threshold=2) == ["on_time", "missed", "missed", "on_time"]
    assert outcomes(one_dropped, count=4, threshold=1) == ["on_time"] * 4


def test_down_fails_the_windows_it_left_the_service_down_in():
    down = windows.down_spans(False, [(m(2), False), (m(6), True), (m(7), True), (m(8), False)], m(0))
    assert down == [(m(6), m(8))]
    assert outcomes([0, 2, 4, 8, 12], count=3, down=down) == ["on_time", "failed", "on_time"]
    # Down before the first window and still down: failed from the start, for ever.
    assert windows.down_spans(True, [(m(1), True)], m(0)) == [(m(0), None)]
    assert outcomes([0, 1, 4, 8, 12], count=3, down=windows.down_spans(True, [], m(0))) == ["failed"] * 3


def test_missed_comes_before_failed_before_late():
    down = [(m(11), m(11.5))]
    assert outcomes([0, 5, 11, 15], count=4, grace=120, down=down) == ["on_time", "on_time", "failed", "on_time"]
    assert outcomes([0, 5, 12, 15], count=4, grace=60, down=[(m(10), m(12))]) == [
        "on_time", "on_time", "missed", "on_time"]


def test_outages_turn_the_windows_they_touch_unknown():
    # Medic down from 9 to 21: the silence it caused is not the service's.
    outages = [(m(9), m(21))]
    assert outcomes([0, 5, 21, 25], count=6, outages=outages) == [
        "on_time", "unknown", "unknown", "unknown", "unknown", "on_time"]
    # An outage ending exactly at a window's start leaves that window alone; an empty one nothing.
    assert outcomes([0, 5, 10, 15], count=3, outages=[(m(0), m(5)), (m(12), m(12))]) == [
        "unknown", "on_time", "on_time"]


def test_the_ratio_is_the_share_on_time():
    assert windows.on_time_ratio([]) is None
    assert windows.on_time_ratio([O.ON_TIME, O.LATE, O.MISSED]) == 0.3333
    assert windows.on_time_ratio(["on_time"]) == 1.0
