"""Medic's own outages: when is a silence a gap, and what a gap is (docs/alerting.md,
"When Medic itself was down"). Pure: every time is a parameter.

A *gap* is a time in which Medic could not receive or evaluate heartbeats: no web
process marked itself up (``web``), the worker's cycles failed on the database
(``database``), or no worker cycle completed (``worker``). What a gap does to a
deadline is the deadline rule's business (core/deadline.py, ``after_gap``), and
to a slot the schedule's (core/schedule.py, ``unmet_outcome``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# How often each web process writes the shared web mark; a gap is at least a few of these.
WEB_MARK_SECONDS = 5.0
MIN_GAP_SECONDS = 15


class GapCause(StrEnum):
    WEB = "web"  # no web process marked itself up
    DATABASE = "database"  # the database could not be written
    WORKER = "worker"  # no worker cycle completed


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    cause: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def covers(self, when: float) -> bool:
        """Whether Unix time ``when`` fell inside the gap (its start excluded: at the
        start Medic was still up)."""
        return self.start.timestamp() < when <= self.end.timestamp()


def is_gap(last_seen: datetime, now: datetime, gap_seconds: float) -> bool:
    """A silence from ``last_seen`` to ``now`` longer than ``gap_seconds`` is a gap."""
    return now - last_seen > timedelta(seconds=gap_seconds)


def cycle_gap_seconds(gap_seconds: float, worker_interval_seconds: float) -> float:
    """The silence between worker cycles that makes a gap: MEDIC_GAP_SECONDS, or two
    worker intervals if that is longer (cycles are only expected that often)."""
    return max(gap_seconds, 2 * worker_interval_seconds)


def cycle_gap_cause(failing_since: datetime | None) -> GapCause:
    """A worker whose own cycles failed meanwhile knows the database was the cause."""
    return GapCause.DATABASE if failing_since is not None else GapCause.WORKER

