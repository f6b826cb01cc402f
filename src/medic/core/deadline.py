"""When is a service next due? The one home of the deadline rule.

A service's health is summarised as one number, its *deadline*: the Unix time
after which it is unhealthy unless another signal arrives (docs/alerting.md,
"Alert rules"; docs/jobs.md for the job terms). ``next_due`` computes it from the
service's settings and its newest signals, and every write path stores what it
returns: a heartbeat batch (its SQL fast path is checked against this function
over a table of cases, tests/store/test_deadline_sql.py), a threshold recount, a
job signal, a settings change and a reactivation. Muting is not an input: a
muted service's deadline keeps moving with its signals, so unmuting it keeps
the stored deadline. ``after_gap`` moves a deadline that fell inside one of
Medic's own outages (core/gaps.py).

Hysteresis (core/hysteresis.py) is folded in here too: ``failures_to_open``
moves the deadline to the end of that many failing windows or slots, and while an
alert is open (``Signals.down``) a service short of ``successes_to_close``
successes stays unhealthy. Both default to 1, which is the rule without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from medic.core import hysteresis, schedule
from medic.core.gaps import Gap
from medic.core.model import GOOD_STATUSES, JOB_FAILED, JOB_RUNNING, JOB_TOO_FAST, Status

# The deadline of a service whose newest signal says it is down (a DOWN heartbeat,
# a failed job): before any "now", whichever host's clock reads it, so a worker
# whose clock trails the web's can never take a fresh DOWN for a recovery.
UNHEALTHY = 0.0
# The deadline of a cron service whose expression has no slot in sight (year 9999).
NEVER = 253402300799.0


def window_seconds(alert_interval_minutes: int, grace_period_seconds: int) -> int:
    return alert_interval_minutes * 60 + grace_period_seconds


@dataclass(frozen=True)
class Settings:
    alert_interval: int  # minutes
    grace_period_seconds: int
    threshold: int
    max_duration_seconds: int | None
    date_added: datetime
    # A cron schedule (docs/schedules.md); None: the interval schedule above.
    cron: schedule.Cron | None = None
    start_margin_seconds: int | None = None
    failures_to_open: int = hysteresis.DEFAULT
    successes_to_close: int = hysteresis.DEFAULT

    @property
    def window(self) -> int:
        return window_seconds(self.alert_interval, self.grace_period_seconds)

    def slot_window(self, started: bool) -> int:
        """Seconds after a cron slot until it counts as missed: the grace, or the start
        margin while no run has started, if that is shorter."""
        if started or self.start_margin_seconds is None:
            return self.grace_period_seconds
        return min(self.grace_period_seconds, self.start_margin_seconds)


@dataclass(frozen=True)
class Signals:
    """The newest signals of a service, as far as the deadline needs them."""

    newest_status: str | None = None  # of the newest stored heartbeat (plain or from a job signal)
    good_times_newest_first: Sequence[datetime] = ()  # newest UP/DEGRADED heartbeats, at most `threshold`
    last_status: str | None = None  # services.last_status once the signal is applied (job state)
    oldest_open_start: datetime | None = None  # start of the oldest job run still open
    fresh_window_from: datetime | None = None  # a reactivation: a new first window from then
    last_success: datetime | None = None  # cron: newest UP/DEGRADED heartbeat or completed run (not a start)
    # Hysteresis, read only when failures_to_open or successes_to_close is above 1
    # (None: counted from newest_status / last_status, as with both at 1).
    downs_in_a_row: int | None = None  # newest heartbeats that are DOWN, up to failures_to_open
    failed_runs_in_a_row: int | None = None  # newest finished job runs that failed
    failed_slot: datetime | None = None  # cron: the slot the newest failure concerns
    down: bool = False  # an alert is open: successes_to_close applies
    successes_since_open: int = 0  # successes in a row since the alert opened


def _failing_now(signals: Signals) -> int:
    """How many failures in a row the newest signals are (interval services)."""
    downs = signals.downs_in_a_row if signals.downs_in_a_row is not None else int(signals.newest_status == Status.DOWN)
    if signals.last_status == JOB_FAILED:
        # Only a completed run clears a failed job (docs/jobs.md).
        downs = max(downs, signals.failed_runs_in_a_row if signals.failed_runs_in_a_row is not None else 1)
    return downs


def next_due(settings: Settings, signals: Signals) -> float:
    """The deadline implied by a service's settings and its newest signals."""
    if signals.down and settings.successes_to_close > 1 and signals.successes_since_open < settings.successes_to_close:
        return UNHEALTHY  # an open alert closes only after successes_to_close successes
    if settings.cron is not None:
        return _cron_due(settings, signals)
    due = _due(settings, signals)
    if signals.fresh_window_from is not None:
        # A reactivated service is given a fresh window, as if newly registered.
        due = max(due, signals.fresh_window_from.timestamp() + settings.window * settings.failures_to_open)
    return due


def after_gap(settings: Settings, due: float, gap: Gap, *, started: bool = False) -> float:
    """The deadline after Medic's own outage ``gap``: one that fell inside it starts a
    fresh window at the gap's end, as a reactivation does (interval: one window; cron:
    the first slot after the end, with its slot window), so a service that resumes is
    not paged and one that stays silent pages within a window of the end. Any other
    deadline stands. The worker applies this in SQL (store/gaps.py, tested equal)."""
    if not gap.covers(due):
        return due
    if settings.cron is None:
        return gap.end.timestamp() + settings.window
    fresh = schedule.next_slot(settings.cron, gap.end)
    return NEVER if fresh is None else fresh.timestamp() + settings.slot_window(started)


def _cron_due(settings: Settings, signals: Signals) -> float:
    """A cron service is due when its oldest unmet slot closes (core/schedule.py), or
    with failures_to_open n, when the n-th slot from it closes unmet."""
    cron = settings.cron
    assert cron is not None
    n = settings.failures_to_open
    slot = schedule.expected_slot(
        cron, date_added=settings.date_added, last_success=signals.last_success,
        grace_seconds=settings.grace_period_seconds,
    )
    if signals.newest_status == Status.DOWN or signals.last_status in (JOB_FAILED, JOB_TOO_FAST):
        # A failure closes its slot at once: unhealthy when it is the n-th failing slot.
        if n == 1 or hysteresis.slots_through(cron, slot, signals.failed_slot or slot, n) >= n:
            return UNHEALTHY
    started = signals.last_status == JOB_RUNNING
    nth = hysteresis.nth_slot(cron, slot, n)
    due = NEVER if nth is None else nth.timestamp() + settings.slot_window(started)
    if signals.fresh_window_from is not None:
        # Reactivated: the first slot after reactivation is the first one expected.
        fresh = hysteresis.nth_slot(cron, schedule.next_slot(cron, signals.fresh_window_from), n)
        due = max(due, NEVER if fresh is None else fresh.timestamp() + settings.slot_window(started))
    if started and signals.oldest_open_start is not None and settings.max_duration_seconds is not None:
        # max_runtime: a run that started must finish within it.
        due = min(due, signals.oldest_open_start.timestamp() + settings.max_duration_seconds)
    return due


def _due(settings: Settings, signals: Signals) -> float:
    if _failing_now(signals) >= settings.failures_to_open:
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
    # failures_to_open: that many windows of silence (the first window included).
    due += (settings.failures_to_open - 1) * window
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


def cron_success_moves_nothing(
    cron: schedule.Cron, grace_seconds: int, *, status: str, at: datetime, previous_status: str | None,
    previous_success: datetime | None, changed: datetime, max_duration_seconds: int | None,
    failures_to_open: int = hysteresis.DEFAULT, successes_to_close: int = hysteresis.DEFAULT,
) -> bool:
    """Whether a cron service's heartbeat at ``at`` leaves its deadline and slots as they
    are: a success after a success, meeting the slot the previous one met (a service that
    beats often meets one slot many times). Only its newest success time moves, which the
    heartbeat batch statement writes itself, so nothing needs recounting. ``changed``: when
    the service was registered or last changed; a success before it (another schedule,
    another grace) proves nothing about the slots of this one."""
    if max_duration_seconds is not None or hysteresis.applies(failures_to_open, successes_to_close):
        return False
    if status not in GOOD_STATUSES or previous_status not in GOOD_STATUSES:
        return False
    if previous_success is None or previous_success <= changed:
        return False
    met = schedule.slot_met_by(cron, at, grace_seconds)
    return met is not None and met == schedule.slot_met_by(cron, previous_success, grace_seconds)


def needs_recount(threshold: int, max_duration_seconds: int | None, cron: str | None = None,
                  failures_to_open: int = hysteresis.DEFAULT, successes_to_close: int = hysteresis.DEFAULT) -> bool:
    """Whether a heartbeat's deadline needs the newest signals read back: the batch
    SQL computes only interval services of threshold 1 without a run limit and
    without hysteresis (and DOWN, and failed jobs); cron services are computed here,
    in Python."""
    return (threshold > 1 or max_duration_seconds is not None or cron is not None
            or hysteresis.applies(failures_to_open, successes_to_close))

