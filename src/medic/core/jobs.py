"""Batch job runs: durations, duration statistics, and what a signal does to health.

Job signals reuse the heartbeat machinery: each one stores a heartbeat and sets
the service's ``last_status`` and its ``deadline`` (core/deadline.py), so the
worker opens and closes job alerts through the normal path without knowing
about runs.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Sequence

from medic.core.model import JOB_FAILED, JOB_RUNNING, JOB_TOO_FAST, Status


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


def status_after_signal(
    action: JobAction, *, previous_status: str | None, run_open: bool, too_fast: bool = False
) -> str:
    """services.last_status after a signal; ``run_open`` says whether a run is still
    open once the signal is applied, ``too_fast`` whether a completed run ended in
    less than its min_runtime. The deadline follows from it (core/deadline.py)."""
    if action == JobAction.FAIL:
        return JOB_FAILED  # unhealthy at once: the next cycle pages
    if action == JobAction.START and previous_status in (JOB_FAILED, JOB_TOO_FAST):
        # Only a completed run clears a failure: resolving the page at the next
        # start would make a job that fails every run page and resolve every run.
        return previous_status
    if action == JobAction.COMPLETE and too_fast:
        return JOB_TOO_FAST  # unhealthy at once, like a failure
    return JOB_RUNNING if run_open else Status.UP


def finished_too_fast(duration: float | None, min_runtime_seconds: int | None) -> bool:
    """A completed run shorter than min_runtime (a run without a start has no duration)."""
    return min_runtime_seconds is not None and duration is not None and duration < min_runtime_seconds


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


# The original Medic's stats keys: milliseconds, and no figures below this many runs.
MIN_RUNS_FOR_MS_STATS = 5


def millisecond_stats(figures: DurationStats) -> dict[str, int | float | None]:
    """`figures` under the original Medic's keys: integer milliseconds (avg to 0.01 ms),
    all null below MIN_RUNS_FOR_MS_STATS durations; `run_count` always."""
    keys = ("avg", "p50", "p95", "p99", "min", "max")
    enough = figures.count >= MIN_RUNS_FOR_MS_STATS
    out: dict[str, int | float | None] = {"run_count": figures.count}
    for key in keys:
        seconds = getattr(figures, key)
        if not enough or seconds is None:
            out[f"{key}_duration_ms"] = None
        elif key == "avg":
            out[f"{key}_duration_ms"] = round(seconds * 1000, 2)
        else:
            out[f"{key}_duration_ms"] = round(seconds * 1000)
    return out
