"""Batch job runs: durations, duration statistics, and what a signal does to health.

Job signals reuse the heartbeat machinery: each one stores a heartbeat and sets
the service's ``deadline`` and ``last_status``, so the worker opens and closes
job alerts through the normal path without knowing about runs.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Sequence

from medic.core.health import UNHEALTHY
from medic.core.model import JOB_FAILED, JOB_RUNNING, Status


class JobAction(StrEnum):
    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"


class RunState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# The run state a closing signal leaves behind.
FINAL_STATE = {JobAction.COMPLETE: RunState.SUCCEEDED, JobAction.FAIL: RunState.FAILED}

# The heartbeat each signal stores: GET /heartbeat keeps showing UP/DOWN only,
# and `fail` is the one signal that does not count towards liveness.
HEARTBEAT_STATUS = {JobAction.START: Status.UP, JobAction.COMPLETE: Status.UP, JobAction.FAIL: Status.DOWN}


def duration_seconds(started_at: datetime | None, finished_at: datetime) -> float | None:
    """Run time; unknown (None) for a run whose start was never signalled."""
    if started_at is None:
        return None
    return max((finished_at - started_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class Health:
    """What a signal writes to the service row."""

    deadline: float
    last_status: str


def health_after_signal(
    action: JobAction,
    *,
    liveness_deadline: float,
    max_duration_seconds: int | None,
    oldest_open_start: datetime | None,
    previous_status: str | None,
) -> Health:
    """The service's deadline and last_status after a signal.

    ``liveness_deadline`` is the deadline the signal's heartbeat alone implies;
    ``oldest_open_start`` is the start of the oldest run still open once this
    signal is applied.
    """
    if action == JobAction.FAIL:
        status = JOB_FAILED  # unhealthy at once: the next cycle pages
    elif action == JobAction.START and previous_status == JOB_FAILED:
        # Only a completed run clears a failure: resolving the page at the next
        # start would make a job that fails every run page and resolve every run.
        status = JOB_FAILED
    elif oldest_open_start is not None:
        status = JOB_RUNNING
    else:
        status = Status.UP
    return Health(job_deadline(liveness_deadline, status, max_duration_seconds, oldest_open_start), status)


def job_deadline(
    liveness_deadline: float,
    last_status: str | None,
    max_duration_seconds: int | None,
    oldest_open_start: datetime | None,
) -> float:
    """A job service's deadline: its liveness deadline, unless the job failed or
    its oldest open run reaches max_duration first. Used after a signal and when
    the service's settings change, so both agree."""
    if last_status == JOB_FAILED:
        return UNHEALTHY
    if oldest_open_start is not None and max_duration_seconds is not None:
        return min(liveness_deadline, oldest_open_start.timestamp() + max_duration_seconds)
    return liveness_deadline


@dataclass(frozen=True)
class DurationStats:
    count: int
    avg: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    min: float | None
    max: float | None


def duration_stats(durations: Sequence[float]) -> DurationStats:
    """Summary of run durations; percentiles interpolate linearly between the
    closest ranks (the "inclusive" method, numpy's default), so p50 of an even
    count is the mean of the two middle values."""
    values = sorted(durations)
    if not values:
        return DurationStats(0, None, None, None, None, None, None)
    if len(values) == 1:
        only = values[0]
        return DurationStats(1, only, only, only, only, only, only)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return DurationStats(
        count=len(values),
        avg=math.fsum(values) / len(values),
        p50=cuts[49],
        p95=cuts[94],
        p99=cuts[98],
        min=values[0],
        max=values[-1],
    )
