"""Vocabulary shared by every layer."""

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

PRIORITIES = ("p1", "p2", "p3", "p4", "p5")
DEFAULT_PRIORITY = "p3"
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


class CloseReason(StrEnum):
    RECOVERED = "recovered"
    DEACTIVATED = "deactivated"
