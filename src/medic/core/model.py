"""Vocabulary shared by every layer: one enum per set of words that is stored,
sent or documented. They are str enums, so a member is its stored value
(``OutboxState.PENDING == "pending"``); the API schemas derive their types
from them (web/schemas.py)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    DEGRADED = "DEGRADED"


# Heartbeats that count towards a service's threshold.
GOOD_STATUSES = frozenset({Status.UP, Status.DEGRADED})

# services.last_status after job signals (heartbeat_events keep UP/DOWN): they
# tell the worker why a job's service went unhealthy.
JOB_RUNNING = "RUNNING"
JOB_FAILED = "FAILED"
# A cron job's run that completed in less than its min_runtime (docs/schedules.md).
JOB_TOO_FAST = "TOO_FAST"

class Priority(StrEnum):
    P1 = "p1"
    P2 = "p2"
    P3 = "p3"
    P4 = "p4"
    P5 = "p5"


DEFAULT_PRIORITY = Priority.P3
DEFAULT_TEAM = "site-reliability"


class ServiceState(StrEnum):
    UP = "up"
    DOWN = "down"
    MUTED = "muted"
    NEW = "new"
    INACTIVE = "inactive"


class OpenReason(StrEnum):
    MISSED_HEARTBEATS = "missed_heartbeats"
    REPORTED_DOWN = "reported_down"
    NEVER_REPORTED = "never_reported"
    JOB_FAILED = "job_failed"
    JOB_OVERDUE = "job_overdue"
    # Cron schedules (docs/schedules.md).
    MISSED_SLOT = "missed_slot"
    LATE_TO_START = "late_to_start"
    RUNNING_TOO_LONG = "running_too_long"
    FINISHED_TOO_FAST = "finished_too_fast"


class CloseReason(StrEnum):
    RECOVERED = "recovered"
    DEACTIVATED = "deactivated"


# Opening and closing reasons, in words for humans (alert names, pages, Slack).
REASON_TEXT: dict[str, str] = {
    OpenReason.MISSED_HEARTBEATS: "missed heartbeats",
    OpenReason.REPORTED_DOWN: "reported DOWN",
    OpenReason.NEVER_REPORTED: "never sent a heartbeat",
    OpenReason.JOB_FAILED: "job failed",
    OpenReason.JOB_OVERDUE: "job overdue",
    OpenReason.MISSED_SLOT: "missed its scheduled run",
    OpenReason.LATE_TO_START: "late to start",
    OpenReason.RUNNING_TOO_LONG: "running too long",
    OpenReason.FINISHED_TOO_FAST: "finished too fast",
    CloseReason.RECOVERED: "recovered",
    CloseReason.DEACTIVATED: "deactivated",
}


class NotificationKind(StrEnum):
    """What an outbox row tells a channel (notifications.kind, the webhook's "event")."""

    TRIGGER = "trigger"
    RESOLVE = "resolve"
    REMINDER = "reminder"
    # In a sent alert's Slack thread: services suppressed by it since (core/dependencies.py).
    NOTE = "note"
    # A service changing state too often (docs/alerting.md, "Flapping"): its pages pause.
    FLAPPING = "flapping"


class OutboxState(StrEnum):
    """notifications.state (docs/alerting.md, "Delivery")."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


UNFINISHED_STATES = (OutboxState.PENDING, OutboxState.SENDING)
FINISHED_STATES = (OutboxState.DELIVERED, OutboxState.FAILED)


class DeliveryOutcome(StrEnum):
    """How a channel classifies one send (notify/base.py)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"


class ChannelName(StrEnum):
    """notifications.channel, the keys of /health's "channels", the metrics' channel label."""

    PAGERDUTY = "pagerduty"
    SLACK = "slack"
    WEBHOOK = "webhook"
    EMAIL = "email"
    APPRISE = "apprise"


def channel_receives(channel: str, kind: str) -> bool:
    """Whether a channel is sent this kind of notification. PagerDuty keeps
    escalating an open incident itself, so reminders go to every other channel;
    notes go to Slack threads only; a flapping service keeps one PagerDuty incident
    open instead of a notice."""
    if kind == NotificationKind.NOTE:
        return channel == ChannelName.SLACK
    return not (channel == ChannelName.PAGERDUTY and kind in (NotificationKind.REMINDER, NotificationKind.FLAPPING))
