"""Is a service healthy, and why not? (docs/alerting.md, "Alert rules".)

Health is summarised as one number per service, its *deadline* (computed in
core/deadline.py, the rule's one home). The store keeps it current on every
signal, so the worker compares one column with ``now`` instead of counting
heartbeat history every cycle.
"""

from __future__ import annotations

from datetime import datetime

from datetime import timedelta

from medic.core import schedule
from medic.core.deadline import window_seconds
from medic.core.model import JOB_FAILED, JOB_RUNNING, JOB_TOO_FAST, OpenReason, ServiceState, Status


def window_fits_retention(alert_interval: int, grace_period_seconds: int, retention_days: int) -> bool:
    """A window longer than heartbeat retention would lose its evidence to cleanup."""
    return window_seconds(alert_interval, grace_period_seconds) <= retention_days * 86400


def is_healthy(deadline: float, now: datetime) -> bool:
    return now.timestamp() < deadline


def open_reason(
    last_heartbeat_at: datetime | None,
    last_status: str | None,
    *,
    cron: schedule.Cron | None = None,
    deadline: float | None = None,
    grace_period_seconds: int = 0,
    start_margin_seconds: int | None = None,
) -> OpenReason:
    if cron is not None:
        return _cron_reason(last_status, cron, deadline, grace_period_seconds, start_margin_seconds)
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


def _cron_reason(
    last_status: str | None, cron: schedule.Cron, deadline: float | None, grace: int, start_margin: int | None
) -> OpenReason:
    """Why a cron service is unhealthy, each reason with its own words (docs/schedules.md)."""
    if last_status == Status.DOWN:
        return OpenReason.REPORTED_DOWN
    if last_status == JOB_FAILED:
        return OpenReason.JOB_FAILED
    if last_status == JOB_TOO_FAST:
        return OpenReason.FINISHED_TOO_FAST
    if last_status == JOB_RUNNING:
        return OpenReason.RUNNING_TOO_LONG
    if start_margin is not None and start_margin < grace and deadline:
        # The deadline is a slot plus the start margin: nothing started in time.
        slot = datetime.fromtimestamp(deadline - start_margin, schedule.UTC)
        if schedule.first_slot_from(cron, slot) == slot:
            return OpenReason.LATE_TO_START
    return OpenReason.MISSED_SLOT


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

