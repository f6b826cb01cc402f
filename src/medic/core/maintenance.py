"""Maintenance windows: whether a service is in maintenance at a time (docs/maintenance.md).
Pure: every time is a parameter, nothing reads the clock.

A window is one-off (``start`` to ``end``) or recurring (each slot of a cron
expression in a time zone, core/schedule.py, lasting ``duration``). Its scope is
one of: given services, a team, or every service carrying all of some labels. A
window ended early (``ended_at``, the API's DELETE) is over from then.

During a window a service in scope opens no alert and sends no reminder; when the
window ends, a service still unhealthy pages then, as after an unmute. Alerts
already open still resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable, Mapping

from medic.core import schedule

# Validation limits (the API's 400s name them).
MAX_DURATION_MINUTES = 7 * 24 * 60
MAX_ONE_OFF = timedelta(days=366)
MAX_SERVICES = 1000
# Occurrences of a recurring window that overlap or touch make one span; looking
# further than this many is a window (almost) always in force, cut there.
_MAX_CHAINED = 100


class MaintenanceError(ValueError):
    """An invalid window; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Scope:
    """Exactly one of: services (by id), a team, or labels (all must match)."""

    service_ids: frozenset[int] = frozenset()
    team: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def covers(self, service_id: int, team: str, labels: Mapping[str, str] | None) -> bool:
        if self.service_ids:
            return service_id in self.service_ids
        if self.team is not None:
            return team == self.team
        if self.labels:
            have = labels or {}
            return all(have.get(key) == value for key, value in self.labels.items())
        return False


@dataclass(frozen=True)
class Window:
    window_id: int
    scope: Scope
    reason: str = ""
    start: datetime | None = None  # one-off
    end: datetime | None = None
    cron: schedule.Cron | None = None  # recurring
    duration: timedelta | None = None
    ended_at: datetime | None = None  # ended early

    def span_at(self, t: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence in force at ``t`` as (start, end), end exclusive; None outside."""
        if self.ended_at is not None and t >= self.ended_at:
            return None
        if self.cron is None:
            if self.start is None or self.end is None or not (self.start <= t < self.end):
                return None
            return self.start, self._cut(self.end)
        span = _occurrence(self.cron, self.duration, t)
        return None if span is None else (span[0], self._cut(span[1]))

    def next_start(self, after: datetime) -> datetime | None:
        """The start of the first occurrence after ``after``; None when there is none."""
        if self.ended_at is not None and after >= self.ended_at:
            return None
        if self.cron is None:
            return self.start if self.start is not None and self.start > after else None
        found = schedule.next_slot(self.cron, after)
        return found if found is not None and (self.ended_at is None or found < self.ended_at) else None

    def is_over(self, now: datetime) -> bool:
        """No occurrence left at or after ``now``."""
        if self.ended_at is not None and self.ended_at <= now:
            return True
        return self.cron is None and self.end is not None and self.end <= now

    def _cut(self, end: datetime) -> datetime:
        return min(end, self.ended_at) if self.ended_at is not None else end


@lru_cache(maxsize=16384)
def _occurrence(cron: schedule.Cron, duration: timedelta, t: datetime) -> tuple[datetime, datetime] | None:
    # Cached: a cycle asks about one ``now`` for many services, and a fleet's slots share times.
    # The first occurrence starting after t - duration is in force at t if it started by t.
    first = schedule.next_slot(cron, t - duration)
    if first is None or first > t:
        return None
    end, slot = first + duration, first
    for _ in range(_MAX_CHAINED):
        slot = schedule.next_slot(cron, slot)
        if slot is None or slot > end:
            break
        end = slot + duration
    return first, end


def window_at(windows: Iterable[Window], service_id: int, team: str, labels: Mapping[str, str] | None,
              t: datetime) -> tuple[Window, datetime] | None:
    """The window a service is in at ``t`` and when it ends (of several, the one ending
    last); None when the service is in no window."""
    found: tuple[Window, datetime] | None = None
    for window in windows:
        if not window.scope.covers(service_id, team, labels):
            continue
        span = window.span_at(t)
        if span is not None and (found is None or span[1] > found[1]):
            found = (window, span[1])
    return found


def window_over(windows: Iterable[Window], service_id: int, team: str, labels: Mapping[str, str] | None,
                start: datetime, end: datetime) -> int | None:
    """The id of a window the service was in at the start or the close of [start, end)
    (an interval service's window, noted as a cron slot is); None if neither."""
    for t in (start, end - timedelta(microseconds=1)):
        found = window_at(windows, service_id, team, labels, t)
        if found is not None:
            return found[0].window_id
    return None


def check_times(*, start: datetime | None, end: datetime | None, cron: str | None, timezone: str | None,
                duration_minutes: int | None, now: datetime) -> schedule.Cron | None:
    """The rules a window's times follow; MaintenanceError naming the field, else the
    parsed cron of a recurring window (None for a one-off)."""
    one_off = start is not None or end is not None
    recurring = cron is not None or timezone is not None or duration_minutes is not None
    if one_off and recurring:
        raise MaintenanceError("cron", "give start and end (one-off) or cron, timezone and duration_minutes "
                                       "(recurring), not both")
    if recurring:
        if cron is None:
            raise MaintenanceError("cron", 'a recurring window needs a cron expression, for example "0 2 * * 0"')
        if duration_minutes is None:
            raise MaintenanceError("duration_minutes", "a recurring window needs a duration in minutes")
        if not 1 <= duration_minutes <= MAX_DURATION_MINUTES:
            raise MaintenanceError("duration_minutes", f"must be between 1 and {MAX_DURATION_MINUTES} (7 days)")
        try:
            return schedule.parse(cron, timezone)
        except schedule.ScheduleError as exc:
            raise MaintenanceError(exc.field, str(exc).split(": ", 1)[1]) from None
    if end is None:
        raise MaintenanceError("end", "a window needs an end (with start, default now), or cron, timezone "
                                      "and duration_minutes")
    start = start or now
    if end <= start:
        raise MaintenanceError("end", "must be after start")
    if end <= now:
        raise MaintenanceError("end", "must be in the future")
    if end - start > MAX_ONE_OFF:
        raise MaintenanceError("end", "a one-off window lasts at most 366 days")
    return None


def check_scope(*, services: object, team: object, labels: object) -> None:
    """Exactly one kind of scope; MaintenanceError naming the field."""
    given = [name for name, value in (("services", services), ("team", team), ("labels", labels)) if value]
    if not given:
        raise MaintenanceError("services", "a window needs a scope: services (heartbeat names), team or labels")
    if len(given) > 1:
        raise MaintenanceError(given[1], f"give one scope: services, team or labels, not {' and '.join(given)}")
