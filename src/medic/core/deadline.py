"""When is a service next due? The one home of the deadline rule.

A service's health is summarised as one number, its *deadline*: the Unix time
after which it is unhealthy unless another signal arrives (docs/alerting.md,
"Alert rules"; docs/jobs.md for the job terms). ``next_due`` computes it from the
service's settings and its newest signals, and every write path stores what it
returns: a heartbeat batch (its SQL fast path is checked against this function
over a table of cases, tests/store/test_deadline_sql.py), a threshold recount, a
job signal, a settings change and a reactivation. Muting is not an input: a
muted service's deadline keeps moving with its signals, so unmuting it keeps
the stored deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from medic.core.model import GOOD_STATUSES, JOB_FAILED, JOB_RUNNING, Status

# The deadline of a service whose newest signal says it is down (a DOWN heartbeat,
# a failed job): before any "now", whichever host's clock reads it, so a worker
# whose clock trails the web's can never take a fresh DOWN for a recovery.
UNHEALTHY = 0.0


def window_seconds(alert_interval_minutes: int, grace_period_seconds: int) -> int:
    return alert_interval_minutes * 60 + grace_period_seconds


@dataclass(frozen=True)
class Settings:
    alert_interval: int  # minutes
    grace_period_seconds: int
    threshold: int
    max_duration_seconds: int | None
    date_added: datetime

    @property
    def window(self) -> int:
        return window_seconds(self.alert_interval, self.grace_period_seconds)


@dataclass(frozen=True)
class Signals:
    """The newest signals of a service, as far as the deadline needs them."""

    newest_status: str | None = None  # of the newest stored heartbeat (plain or from a job signal)
    good_times_newest_first: Sequence[datetime] = ()  # newest UP/DEGRADED heartbeats, at most `threshold`
    last_status: str | None = None  # services.last_status once the signal is applied (job state)
    oldest_open_start: datetime | None = None  # start of the oldest job run still open
    fresh_window_from: datetime | None = None  # a reactivation: a new first window from then


def next_due(settings: Settings, signals: Signals) -> float:
    """The deadline implied by a service's settings and its newest signals."""
    due = _due(settings, signals)
    if signals.fresh_window_from is not None:
        # A reactivated service is given a fresh window, as if newly registered.
        due = max(due, signals.fresh_window_from.timestamp() + settings.window)
    return due


def _due(settings: Settings, signals: Signals) -> float:
    if signals.newest_status == Status.DOWN or signals.last_status == JOB_FAILED:
        # Only a completed run clears a failed job (docs/jobs.md).
        return UNHEALTHY
    window = settings.window
    # Nothing alerts before one full window after registration: a new service,
    # or one that has not yet had time to send `threshold` heartbeats.
    first_window_end = settings.date_added.timestamp() + window
    good = signals.good_times_newest_first
    if len(good) < settings.threshold:
        due = first_window_end
    else:
        due = max(good[settings.threshold - 1].timestamp() + window, first_window_end)
    if signals.oldest_open_start is not None and settings.max_duration_seconds is not None:
        # An open run's limit stays in force whatever heartbeats arrive meanwhile.
        due = min(due, signals.oldest_open_start.timestamp() + settings.max_duration_seconds)
    return due


def status_after_heartbeat(previous: str | None, status: str) -> str:
    """services.last_status after a plain heartbeat: it never erases a job's state.

    A failed job stays failed until a run completes; a running job stays running
    unless the heartbeat reports DOWN (then the page says so).
    """
    if previous == JOB_FAILED or (previous == JOB_RUNNING and status != Status.DOWN):
        return previous
    return status


def needs_recount(threshold: int, max_duration_seconds: int | None) -> bool:
    """Whether a heartbeat's deadline needs the newest signals read back: the batch
    SQL computes only threshold 1 without a run limit (and DOWN, and failed jobs)."""
    return threshold > 1 or max_duration_seconds is not None

