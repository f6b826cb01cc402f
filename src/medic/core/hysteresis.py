"""Hysteresis (docs/alerting.md, "Hysteresis"): how many failures in a row open an
alert (``failures_to_open``) and how many successes in a row close it
(``successes_to_close``). Pure: the store hands in the newest signals, and
core/deadline.py folds the counts into the one deadline rule.

- A failure is a window of silence (interval), a missed or failed slot (cron), a
  DOWN heartbeat, or a failed job run.
- A success, counted only once an alert is open, is an UP or DEGRADED heartbeat,
  a completed job run, or a met slot, after the alert opened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable, Sequence, TypeVar

from medic.core import schedule
from medic.core.model import GOOD_STATUSES, Status

DEFAULT = 1  # today's behaviour: the first failure opens, the first success closes
MIN, MAX = 1, 100

T = TypeVar("T")


def applies(failures_to_open: int, successes_to_close: int) -> bool:
    """Whether a service's deadline needs more than its newest signal (store recounts it)."""
    return failures_to_open > DEFAULT or successes_to_close > DEFAULT


def leading(items: Iterable[T], counts: Callable[[T], bool]) -> int:
    """How many items, newest first, count before the first that does not."""
    n = 0
    for item in items:
        if not counts(item):
            break
        n += 1
    return n


def downs_in_a_row(statuses_newest_first: Iterable[str]) -> int:
    return leading(statuses_newest_first, lambda status: status == Status.DOWN)


def goods_in_a_row(statuses_newest_first: Iterable[str]) -> int:
    return leading(statuses_newest_first, lambda status: status in GOOD_STATUSES)


def slots_in_a_row(cron: schedule.Cron, met_newest_first: Sequence[datetime]) -> int:
    """Met slots in a row, newest first, counting only slots that follow each other
    in the schedule: a slot with no row (a miss the sweep has not recorded yet)
    breaks the run as a recorded miss does."""
    n = 0
    following: datetime | None = None
    for slot in met_newest_first:
        if following is not None and schedule.next_slot(cron, slot) != following:
            break
        n += 1
        following = slot
    return n


def nth_slot(cron: schedule.Cron, first: datetime | None, n: int) -> datetime | None:
    """The ``n``-th slot counting ``first`` as the first (n >= 1)."""
    slot = first
    for _ in range(n - 1):
        if slot is None:
            return None
        slot = schedule.next_slot(cron, slot)
    return slot


def slots_through(cron: schedule.Cron, first: datetime | None, last: datetime | None, limit: int) -> int:
    """How many slots from ``first`` through ``last``, both counted, at most ``limit``:
    the failing slots of a cron service whose newest failure concerns ``last``."""
    if first is None or last is None or last < first:
        return 1 if last is not None else 0
    n, slot = 1, first
    while slot < last and n < limit:
        slot = schedule.next_slot(cron, slot)
        if slot is None or slot > last:
            break
        n += 1
    return n

