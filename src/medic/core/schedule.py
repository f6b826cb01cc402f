"""Cron schedules: expected slots, which slot a signal meets, and slot outcomes
(docs/schedules.md). Pure: every time is a parameter, nothing reads the clock.

A *slot* is one time the cron expression names in the schedule's time zone. A
success signal at ``t`` meets the first slot ``s`` with ``t <= s + grace``, as
long as ``t`` came after the slot before ``s`` (a run may finish early, never
for a slot that has not been opened yet). Slots are computed by cronsim, which
follows cron on Debian across daylight-saving changes:

- a job at a fixed local time inside the hour that is skipped (spring forward)
  runs once, right after the jump (02:30 becomes 03:00 on that day);
- a job at a fixed local time inside the hour that repeats (fall back) runs once,
  at the first of the two;
- a job with ``*`` in its minute or hour field follows real time: an hourly job
  has no run in the skipped hour and two in the repeated one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from medic.core.gaps import Gap

UTC = timezone.utc
DEFAULT_TIMEZONE = "UTC"

# The @-aliases of Debian cron (@reboot has no slots, so it is refused).
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Looking further than this for a slot means the expression (almost) never fires.
_HORIZON_YEARS = 5


class ScheduleKind(StrEnum):
    INTERVAL = "interval"
    CRON = "cron"


class SlotOutcome(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"  # met within grace
    MISSED = "missed"
    FAILED = "failed"
    TOO_LONG = "too_long"
    TOO_FAST = "too_fast"
    UNKNOWN = "unknown"  # Medic itself could not receive


MET_OUTCOMES = frozenset({SlotOutcome.ON_TIME, SlotOutcome.LATE})


def unmet_outcome(slot: datetime, grace_seconds: int, gaps: Iterable[Gap] = ()) -> SlotOutcome:
    """A slot that closed (slot plus grace) without a signal: ``missed``, or ``unknown``
    when one of Medic's own outages (core/gaps.py) overlapped it (the slot at or before
    the gap's end, its close after the gap's start), since a signal sent then could not
    be received. The first slot after a gap is the first one expected again
    (core/deadline.py, ``after_gap``)."""
    closes = slot.timestamp() + grace_seconds
    if any(gap.start.timestamp() < closes and slot <= gap.end for gap in gaps):
        return SlotOutcome.UNKNOWN
    return SlotOutcome.MISSED


class ScheduleError(ValueError):
    """An invalid schedule; ``field`` names what is wrong (``cron`` or ``timezone``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Cron:
    """A validated cron schedule: an expression (as given) in an IANA zone."""

    expression: str
    timezone: str = DEFAULT_TIMEZONE

    @property
    def fields(self) -> str:
        return _fields(self.expression)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


def _fields(expression: str) -> str:
    text = " ".join(expression.split())
    return ALIASES.get(text.lower(), text)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse(expression: object, zone: object = None) -> Cron:
    """A Cron from user input, or ScheduleError naming the field and the problem."""
    if zone is None:
        zone = DEFAULT_TIMEZONE
    if not isinstance(expression, str) or not expression.strip():
        raise ScheduleError("cron", "a 5-field cron expression is required, for example \"0 3 * * *\"")
    if not isinstance(zone, str) or not zone.strip():
        raise ScheduleError("timezone", "an IANA time zone name is required, for example \"Europe/Berlin\"")
    expression, zone = " ".join(expression.split()), zone.strip()
    if len(expression) > 255:
        raise ScheduleError("cron", "too long (255 characters max)")
    fields = _fields(expression)
    if fields.startswith("@"):
        raise ScheduleError("cron", f"unknown alias {expression!r}; use one of {', '.join(sorted(ALIASES))}")
    if len(fields.split()) != 5:
        raise ScheduleError("cron", f"{expression!r} has {len(fields.split())} fields; a cron expression has 5 "
                            "(minute hour day-of-month month day-of-week)")
    try:
        tz = _zone(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError("timezone", f"{zone!r} is not a known IANA time zone (for example \"Europe/Berlin\")") from None
    try:
        first = next(CronSim(fields, datetime(2000, 1, 1, tzinfo=tz)))
    except CronSimError as exc:
        raise ScheduleError("cron", f"{expression!r} is not a valid cron expression: {exc}") from None
    except StopIteration:
        raise ScheduleError("cron", f"{expression!r} never fires") from None
    del first
    return Cron(expression, zone)


def _check_aware(when: datetime) -> None:
    if when.tzinfo is None:
        raise ValueError("naive datetime; use aware UTC")


def slots_after(cron: Cron, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots strictly after ``after``, in UTC."""
    _check_aware(after)
    out: list[datetime] = []
    limit = after + timedelta(days=366 * _HORIZON_YEARS)
    # cronsim compares in local wall time; start from the zone's reading of `after`.
    it = CronSim(cron.fields, after.astimezone(cron.zone))
    while len(out) < count:
        try:
            local = next(it)
        except StopIteration:
            break
        utc = local.astimezone(UTC)
        if utc > limit:
            break
        if utc > after and (not out or utc > out[-1]):
            out.append(utc)
    return out


def next_slot(cron: Cron, after: datetime) -> datetime | None:
    """The first slot strictly after ``after`` (UTC); None if there is none in sight."""
    _check_aware(after)
    minute = after.astimezone(UTC).replace(second=0, microsecond=0)
    if after.astimezone(cron.zone).utcoffset().total_seconds() % 60:  # an old local mean time: no shortcut
        found = slots_after(cron, after, 1)
        return found[0] if found else None
    return _next_slot_after_minute(cron, minute)


@lru_cache(maxsize=65536)
def _next_slot_after_minute(cron: Cron, minute: datetime) -> datetime | None:
    # Slots fall on whole minutes (five fields, zones whole minutes off UTC), so the first
    # slot after any moment of a minute is the first after the minute itself: one
    # computation serves every service sharing an expression and zone in that minute
    # (a heartbeat batch computes several slots per cron service).
    found = slots_after(cron, minute, 1)
    return found[0] if found else None


def first_slot_from(cron: Cron, when: datetime) -> datetime | None:
    """The first slot at or after ``when``."""
    return next_slot(cron, when - timedelta(seconds=1) if when.microsecond == 0 else when.replace(microsecond=0))


def slot_met_by(cron: Cron, success_at: datetime, grace_seconds: int) -> datetime | None:
    """The slot a success at ``success_at`` meets: the first ``s`` with ``success_at <= s + grace``."""
    return first_slot_from(cron, success_at - timedelta(seconds=grace_seconds))


def met_outcome(slot: datetime, success_at: datetime) -> SlotOutcome:
    return SlotOutcome.ON_TIME if success_at <= slot else SlotOutcome.LATE


def expected_slot(cron: Cron, *, date_added: datetime, last_success: datetime | None, grace_seconds: int) -> datetime | None:
    """The oldest slot not yet met: the one after the slot the newest success met,
    or, before any success, the first slot after registration."""
    if last_success is None or last_success < date_added:
        return next_slot(cron, date_added)
    met = slot_met_by(cron, last_success, grace_seconds)
    if met is None:
        return None
    return next_slot(cron, met)


def describe(cron: Cron) -> str:
    """In words: "at 03:00 every day, Europe/Berlin"."""
    try:
        words = CronSim(cron.fields, datetime(2000, 1, 1, tzinfo=UTC)).explain()
    except Exception:  # explain() does not know every form; the expression is still valid
        words = cron.fields
    if words[:1].isupper() and words[1:2].islower():
        words = words[0].lower() + words[1:]
    return f"{words}, {cron.timezone}"


def typical_gap_minutes(cron: Cron, now: datetime) -> int:
    """The gap between the next two slots, in whole minutes (at least 1): what a cron
    service reports as its ``alert_interval`` to clients that read that field."""
    found = slots_after(cron, now, 2)
    if len(found) < 2:
        return 1440
    return max(1, min(525600, int((found[1] - found[0]).total_seconds() // 60)))


def slot_closes(slot: datetime, grace_seconds: int) -> datetime:
    return slot + timedelta(seconds=grace_seconds)
