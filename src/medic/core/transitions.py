"""What the worker does with one service this cycle (docs/alerting.md, "Alert rules").

``decide`` is the whole rule book; the store only narrows the services it must
look at and applies the result with compare-and-set updates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from medic.core import schedule
from medic.core.health import is_healthy, open_reason
from medic.core.model import REASON_TEXT, CloseReason, NotificationKind, OpenReason


class Action(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    REMIND = "remind"


@dataclass(frozen=True)
class Candidate:
    """A service as the worker sees it, with its open alert if any."""

    service_id: int
    heartbeat_name: str
    service_name: str
    team: str
    priority: str
    runbook: str | None
    alert_interval: int
    threshold: int
    grace_period_seconds: int
    active: bool
    muted: bool
    down: bool
    deadline: float
    last_heartbeat_at: datetime | None
    last_status: str | None
    alert_id: int | None = None
    alert_created: datetime | None = None
    last_reminded_at: datetime | None = None
    cron: str | None = None  # a cron schedule (docs/schedules.md); None: interval
    timezone: str | None = None
    start_margin_seconds: int | None = None
    labels: dict | None = None  # matched by routes (core.routing)
    alert_suppressed: bool | None = None  # the open alert waits on a parent's (core.dependencies)
    flapping: bool = False  # pages paused (core/flapping.py): no reminders

    def reason(self) -> OpenReason:
        """Why the service is unhealthy, in the words of its schedule."""
        cron = schedule.Cron(self.cron, self.timezone or schedule.DEFAULT_TIMEZONE) if self.cron else None
        return open_reason(
            self.last_heartbeat_at, self.last_status, cron=cron, deadline=self.deadline,
            grace_period_seconds=self.grace_period_seconds, start_margin_seconds=self.start_margin_seconds,
        )


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(c: Candidate, now: datetime, reminder_every: timedelta | None = None) -> Decision | None:
    healthy = is_healthy(c.deadline, now)
    if c.down:
        if not c.active:
            return Decision(Action.CLOSE, CloseReason.DEACTIVATED)  # rule 7
        if healthy:
            # Rule 5. A recovery is resolved even while muted: a resolve wakes
            # nobody, and an incident left open would be a false page.
            return Decision(Action.CLOSE, CloseReason.RECOVERED)
        if reminder_every and not c.muted and not c.alert_suppressed and not c.flapping and c.alert_created is not None:
            last = c.last_reminded_at or c.alert_created
            if now >= last + reminder_every:
                return Decision(Action.REMIND, c.reason())
        return None  # rule 4: still down, no second page
    if c.active and not c.muted and not healthy:
        return Decision(Action.OPEN, c.reason())  # rules 3 and 6
    return None


def auto_unmute_cutoff(now: datetime, hours: float) -> datetime:
    """Services muted at or before this time, with no muted_until, are unmuted (rule 6)."""
    return now - timedelta(hours=hours)


# A mute's duration (docs/api.md, "Muting"): a whole number and a unit, m, h or d.
MUTE_FOR_UNITS = {"m": 60, "h": 3600, "d": 86400}
MUTE_FOR_PATTERN = re.compile(r"^([1-9][0-9]{0,5})([mhd])$")
MUTE_FOR_MAX = timedelta(days=365)


def parse_mute_for(text: str) -> timedelta:
    """"30m", "2h" or "1d" as a timedelta; ValueError for anything else or over a year."""
    found = MUTE_FOR_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ValueError('must be a whole number and a unit, m, h or d, like "30m", "2h" or "1d"')
    duration = timedelta(seconds=int(found.group(1)) * MUTE_FOR_UNITS[found.group(2)])
    if duration > MUTE_FOR_MAX:
        raise ValueError("must be at most 365d")
    return duration


def mute_end(now: datetime, default_hours: float, *, muted_until: datetime | None = None,
             mute_for: timedelta | None = None) -> datetime:
    """When a mute made at ``now`` lifts: its end, its duration, else AUTO_UNMUTE_HOURS (rule 6)."""
    if muted_until is not None:
        return muted_until
    return now + (mute_for if mute_for is not None else timedelta(hours=default_hours))


def mute_expired(now: datetime, default_hours: float, *, date_muted: datetime | None,
                 muted_until: datetime | None) -> bool:
    """Whether a muted service is unmuted now (rule 6); store.unmute_expired is its SQL."""
    if muted_until is not None:
        return muted_until <= now
    return date_muted is not None and date_muted <= auto_unmute_cutoff(now, default_hours)


def alert_name(c: Candidate, reason: str) -> str:
    return f"{c.heartbeat_name} ({c.service_name}): {REASON_TEXT.get(reason, reason)}"


def payload(
    kind: NotificationKind,
    c: Candidate,
    *,
    alert_id: int,
    dedup_key: str,
    name: str,
    reason: str,
    opened_at: datetime,
    closed_at: datetime | None,
    now: datetime,
    base_url: str | None,
) -> dict:
    """The alert event every channel renders (stored in the outbox row)."""
    iso = lambda value: value.isoformat() if value else None  # noqa: E731
    return {
        "event": kind,
        "alert_id": alert_id,
        "dedup_key": dedup_key,
        "alert_name": name,
        "reason": reason,
        "heartbeat_name": c.heartbeat_name,
        "service_name": c.service_name,
        "team": c.team,
        "priority": c.priority,
        "runbook": c.runbook,
        "alert_interval": c.alert_interval,
        "threshold": c.threshold,
        "grace_period_seconds": c.grace_period_seconds,
        "opened_at": iso(opened_at),
        "closed_at": iso(closed_at),
        "last_heartbeat_at": iso(c.last_heartbeat_at),
        "occurred_at": iso(now),
        "medic_url": f"{base_url.rstrip('/')}/service/{c.heartbeat_name}" if base_url else None,
    }
