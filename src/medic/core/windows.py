"""Interval services' windows and their outcomes (docs/schedules.md, "Slot history").
Pure: every time is a parameter, nothing reads the clock or the database.

A *window* is a fixed chunk of ``alert_interval`` minutes aligned to the Unix epoch
(a 1440-minute service has UTC days). Windows are derived on read from the
heartbeat history, never written: the heartbeat ingest path stays one statement.
The store finds the stretches between successes and the DOWN stretches in SQL;
this module turns them into spans and judges each ended window by the alert rule
(docs/alerting.md), first match wins:

- ``unknown``: it overlaps a span when Medic itself could not receive;
- ``missed``: the service was past its deadline (its ``threshold``-th newest
  success, or its registration before it had that many, plus ``alert_interval``
  plus the grace) at some time in the window;
- ``failed``: a DOWN heartbeat left it down at some time in the window;
- ``late``: it was past ``alert_interval`` but within the grace at some time in it;
- ``on_time`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from medic.core.schedule import SlotOutcome

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A span of time [start, end); end None: still going.
Span = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class Gap:
    """The stretch after a success (``after``) until the next one (``until``, None: none
    yet), during which the deadline is counted from ``base``: the threshold-th newest
    success at ``after`` (``after`` itself for threshold 1), or the registration."""

    after: datetime
    base: datetime
    until: datetime | None


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    outcome: SlotOutcome


def align_down(when: datetime, width_seconds: int) -> datetime:
    offset = int((when - _EPOCH).total_seconds() // width_seconds) * width_seconds
    return _EPOCH + timedelta(seconds=offset)


def align_up(when: datetime, width_seconds: int) -> datetime:
    down = align_down(when, width_seconds)
    return down if down == when else down + timedelta(seconds=width_seconds)


def overdue_spans(gaps: Iterable[Gap], interval_seconds: int, grace_seconds: int) -> tuple[list[Span], list[Span]]:
    """(late, missed) spans of the gaps: past ``interval_seconds`` after each gap's base
    but within the grace is late; past the grace too is missed, until the next success."""
    late: list[Span] = []
    missed: list[Span] = []
    interval = timedelta(seconds=interval_seconds)
    due = timedelta(seconds=interval_seconds + grace_seconds)
    for gap in gaps:
        late_end = gap.base + due if gap.until is None else min(gap.until, gap.base + due)
        _add(late, max(gap.after, gap.base + interval), late_end)
        _add(missed, max(gap.after, gap.base + due), gap.until)
    return late, missed


def down_spans(down_before: bool, changes: Iterable[tuple[datetime, bool]], start: datetime) -> list[Span]:
    """Spans during which the newest heartbeat was DOWN, from ``start``. ``down_before``:
    the newest heartbeat before ``start`` was DOWN; ``changes``: (time, is DOWN) of the
    heartbeats from ``start`` on, oldest first (those that change it, or all)."""
    spans: list[Span] = []
    since = start if down_before else None
    for at, is_down in changes:
        if is_down and since is None:
            since = at
        elif not is_down and since is not None:
            _add(spans, since, at)
            since = None
    if since is not None:
        spans.append((since, None))
    return spans


def _add(spans: list[Span], start: datetime, end: datetime | None) -> None:
    if end is None or start < end:
        spans.append((start, end))


def judge(
    first: datetime,
    count: int,
    width_seconds: int,
    *,
    missed: Sequence[Span] = (),
    down: Sequence[Span] = (),
    late: Sequence[Span] = (),
    outages: Sequence[Span] = (),
) -> list[Window]:
    """The outcomes of ``count`` windows of ``width_seconds`` from ``first`` (a window
    start). ``outages``: spans when Medic was not able to receive (unknown)."""
    if count <= 0:
        return []
    # Each window takes the strongest outcome of the spans it overlaps.
    rank = [0] * count
    for strength, spans in ((4, outages), (3, missed), (2, down), (1, late)):
        for start, end in spans:
            if end is not None and end <= start:
                continue
            lo = max(0, int((start - first).total_seconds() // width_seconds))
            if end is None:
                hi = count
            else:
                # The last window the span reaches into: [start, end) is half-open.
                hi = min(count, -int(-(end - first).total_seconds() // width_seconds))
            for i in range(lo, hi):
                if rank[i] < strength:
                    rank[i] = strength
    outcome = {0: SlotOutcome.ON_TIME, 1: SlotOutcome.LATE, 2: SlotOutcome.FAILED, 3: SlotOutcome.MISSED,
               4: SlotOutcome.UNKNOWN}
    width = timedelta(seconds=width_seconds)
    return [Window(first + i * width, first + (i + 1) * width, outcome[r]) for i, r in enumerate(rank)]


def on_time_ratio(outcomes: Iterable[SlotOutcome | str]) -> float | None:
    """The share of outcomes that were on time (None without any), as for cron slots."""
    outcomes = list(outcomes)
    if not outcomes:
        return None
    return round(sum(o == SlotOutcome.ON_TIME for o in outcomes) / len(outcomes), 4)
