"""When is a service healthy? (docs/alerting.md, "Alert rules".)

Health is summarised as one number per service, its *deadline*: the Unix time
after which the service is unhealthy unless another heartbeat arrives. The store
keeps it current on every heartbeat, so the worker compares one column with
``now`` instead of counting heartbeat history every cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from medic.core.model import JOB_FAILED, JOB_RUNNING, OpenReason, ServiceState, Status


# The deadline of a service whose newest signal says it is down (a DOWN heartbeat,
# a failed job): before any "now", whichever host's clock reads it, so a worker
# whose clock trails the web's can never take a fresh DOWN for a recovery.
UNHEALTHY = 0.0


def window_seconds(alert_interval_minutes: int, grace_period_seconds: int) -> int:
    return alert_interval_minutes * 60 + grace_period_seconds


def window_fits_retention(alert_interval: int, grace_period_seconds: int, retention_days: int) -> bool:
    """A window longer than heartbeat retention would lose its evidence to cleanup."""
    return window_seconds(alert_interval, grace_period_seconds) <= retention_days * 86400


def deadline_for(
    *,
    date_added: datetime,
    alert_interval: int,
    grace_period_seconds: int,
    threshold: int,
    newest_status: str | None,
    newest_time: datetime | None,
    good_times_newest_first: Sequence[datetime],
) -> float:
    """The deadline implied by a service's settings and its newest heartbeats.

    ``good_times_newest_first`` needs at most ``threshold`` entries: the newest
    UP/DEGRADED heartbeat times.
    """
    if newest_status == Status.DOWN and newest_time is not None:
        return UNHEALTHY
    window = window_seconds(alert_interval, grace_period_seconds)
    # Nothing alerts before one full window after registration: a new service
    # (rule 2), or one that has not yet had time to send `threshold` heartbeats.
    first_window_end = date_added.timestamp() + window
    if len(good_times_newest_first) < threshold:
        return first_window_end
    oldest_needed = good_times_newest_first[threshold - 1]
    return max(oldest_needed.timestamp() + window, first_window_end)


def deadline_after_single_heartbeat(status: str, at: datetime, window: int) -> float:
    """The deadline after one heartbeat when ``threshold`` is 1 (the common case)."""
    return UNHEALTHY if status == Status.DOWN else at.timestamp() + window


def is_healthy(deadline: float, now: datetime) -> bool:
    return now.timestamp() < deadline


def open_reason(last_heartbeat_at: datetime | None, last_status: str | None) -> OpenReason:
    if last_heartbeat_at is None:
        return OpenReason.NEVER_REPORTED
    if last_status == Status.DOWN:
        return OpenReason.REPORTED_DOWN
    if last_status == JOB_FAILED:
        return OpenReason.JOB_FAILED
    if last_status == JOB_RUNNING:
        # A run left open past max_duration_seconds (or past the whole window).
        return OpenReason.JOB_OVERDUE
    return OpenReason.MISSED_HEARTBEATS


def state_of(*, active: bool, muted: bool, down: bool, last_heartbeat_at: datetime | None) -> ServiceState:
    if not active:
        return ServiceState.INACTIVE
    if muted:
        return ServiceState.MUTED
    if down:
        return ServiceState.DOWN
    if last_heartbeat_at is None:
        return ServiceState.NEW
    return ServiceState.UP

