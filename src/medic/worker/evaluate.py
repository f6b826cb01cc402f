"""One evaluation pass: auto-unmute, decide every candidate, write transitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Sequence

from medic.config import Settings
from medic.core.flapping import Rule as FlapRule
from medic.core.gaps import Gap, GapCause, cycle_gap_cause, cycle_gap_seconds, is_gap
from medic.core.maintenance import window_at
from medic.core.transitions import Action, auto_unmute_cutoff, decide
from medic.core.model import NotificationKind, channel_receives
from medic.store import dependencies, flapping, gaps, maintenance, schedules
from medic.store import worker_state as ws
from medic.store import transitions as store
from medic.store.escalations import escalate
from medic.store.routes import live_routes

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = logging.getLogger("medic.worker")

# Maintenance windows over for longer than this are not loaded: a slot the sweep
# closes is never older than its grace plus this, so its window is still known.
WINDOW_LOOKBACK = timedelta(days=7)


@dataclass
class EvaluationResult:
    unmuted: int = 0
    opened: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    # Slots closed this cycle, by (team, outcome) (docs/schedules.md).
    slot_outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    escalated: list[int] = field(default_factory=list)
    held: int = 0  # services that would have paged or reminded, held by a maintenance window
    # Medic's own outages applied this cycle, and how many services got a fresh window.
    gaps: list[tuple[Gap, int]] = field(default_factory=list)
    # While no web process has marked itself up for longer than a gap: since when.
    web_silent_since: datetime | None = None
    # Dependencies (docs/alerting.md): opened without a page; paged on their own later.
    suppressed: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)  # flapping services' states reported (core/flapping.py)


def evaluate(
    engine: "Engine", settings: Settings, channels: Sequence[str], now: datetime,
    *, failing_since: datetime | None = None,
) -> EvaluationResult:
    """Decide and record every transition due at ``now``, in one transaction.

    The transaction holds the transitions and their outbox rows together: a
    crash leaves either both or neither. ``failing_since``: this worker's cycles
    have failed since then (a gap it ends is the database's).
    """
    reminder_every = (
        timedelta(minutes=settings.reminder_interval_minutes) if settings.reminder_interval_minutes else None
    )
    remind_before = now - reminder_every if reminder_every else None
    flap = FlapRule(settings.flap_changes, settings.flap_minutes) if settings.flap_changes else None
    result = EvaluationResult()
    with engine.begin() as conn:
        # First, before this transaction locks any service row: a second worker applying
        # the same gap waits here for the first, holding nothing the first needs.
        open_through = _outages(conn, settings, now, failing_since, result) if settings.gap_detection else None
        result.unmuted = store.unmute_expired(conn, auto_unmute_cutoff(now, settings.auto_unmute_hours), now)
        # Few rows: loaded once, services are tested against them in memory.
        windows = maintenance.windows_since(conn, now - WINDOW_LOOKBACK)
        # Cron slots that closed without a signal are recorded missed, or unknown (docs/schedules.md).
        result.slot_outcomes = schedules.sweep(conn, now, windows, gaps=settings.gap_detection, through=open_through)
        to_open, to_close, to_remind, held = [], [], [], []
        for candidate in store.candidates(conn, now, remind_before, open_through):
            decision = decide(candidate, now, reminder_every)
            if decision is None:
                continue
            if decision.action != Action.CLOSE and windows:
                # In maintenance: no trigger, no reminder; held (and not looked at) until the window ends.
                found = window_at(windows, candidate.service_id, candidate.team, candidate.labels, now)
                if found is not None:
                    held.append((candidate.service_id, found[1], found[0].window_id))
                    continue
            bucket = {Action.OPEN: to_open, Action.CLOSE: to_close, Action.REMIND: to_remind}[decision.action]
            bucket.append((candidate, decision.reason))
        maintenance.hold(conn, held)
        result.held = len(held)
        if to_close:
            result.closed = store.close_alerts(conn, to_close, now, channels, settings.base_url, flap)
        routes = live_routes(conn)
        if to_open:
            result.opened, result.suppressed = dependencies.open_alerts(
                conn, to_open, now, channels, settings.base_url, routes, open_through, flap)
        result.released = dependencies.release_due(
            conn, now, timedelta(minutes=settings.dependency_grace_minutes), channels, settings.base_url, routes,
            windows)
        if to_remind:
            told = [channel for channel in channels if channel_receives(channel, NotificationKind.REMINDER)]
            result.reminded = store.remind(conn, to_remind, now, remind_before, told, settings.base_url)
        result.escalated = escalate(conn, now, routes)
        result.settled = flapping.settle(conn, now, channels, settings.base_url, routes, windows)
    for gap, moved in result.gaps:
        log.warning(
            "gap detected: %s from %s to %s (%d s); %d services due in it get a fresh window from its end",
            _GAP_WORDS[GapCause(gap.cause)], gap.start.isoformat(), gap.end.isoformat(), round(gap.seconds), moved,
        )
    if result.unmuted:
        log.info("auto-unmuted %d services", result.unmuted)
    if result.held:
        log.info("held by maintenance windows: %d services", result.held)
    if result.settled:
        log.info("flapping ended: the state of %d services reported", len(result.settled))
    if result.opened or result.closed:
        log.info("alerts opened: %d, closed: %d", len(result.opened), len(result.closed))
    if result.suppressed or result.released:
        log.info("alerts suppressed by a dependency: %d, released to page: %d",
                 len(result.suppressed), len(result.released))
    return result


_GAP_WORDS = {
    GapCause.WEB: "no web process accepted heartbeats",
    GapCause.DATABASE: "the database could not be written",
    GapCause.WORKER: "no worker cycle ran",
}


def _outages(
    conn: "Connection", settings: Settings, now: datetime, failing_since: datetime | None, result: EvaluationResult
) -> float | None:
    """Medic's own outages (docs/alerting.md): record a silence of the worker cycles
    as a gap, give fresh windows for every gap not yet applied (by whichever worker
    wins it), and return until when services may open: up to the web mark, since
    a service due after it may have sent heartbeats that no web process took."""
    last = ws.get(conn, ws.LAST_CYCLE)
    threshold = cycle_gap_seconds(settings.gap_seconds, settings.worker_interval_seconds)
    if last is not None and is_gap(last.updated_at, now, threshold):
        gaps.record(conn, Gap(last.updated_at, now, cycle_gap_cause(failing_since)), now)
    for row in gaps.unapplied(conn):
        moved = gaps.apply(conn, row, now)
        if moved is not None:
            result.gaps.append((Gap(row.started_at, row.ended_at, row.cause), moved))
    mark = gaps.web_mark(conn)
    if mark is None:
        return None  # no web process ever marked itself (none has run this version yet)
    if is_gap(mark, now, settings.gap_seconds):
        result.web_silent_since = mark
    return mark.timestamp()
