"""One evaluation pass: auto-unmute, decide every candidate, write transitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Sequence

from medic.config import Settings
from medic.core.flapping import Rule as FlapRule
from medic.core.transitions import Action, auto_unmute_cutoff, decide
from medic.core.model import NotificationKind, channel_receives
from medic.store import flapping, schedules
from medic.store import transitions as store
from medic.store.escalations import escalate
from medic.store.routes import live_routes

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.worker")


@dataclass
class EvaluationResult:
    unmuted: int = 0
    opened: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    # Slots closed this cycle, by (team, outcome) (docs/schedules.md).
    slot_outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    escalated: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)  # flapping services' states reported (core/flapping.py)


def evaluate(engine: "Engine", settings: Settings, channels: Sequence[str], now: datetime) -> EvaluationResult:
    """Decide and record every transition due at ``now``, in one transaction.

    The transaction holds the transitions and their outbox rows together: a
    crash leaves either both or neither.
    """
    reminder_every = (
        timedelta(minutes=settings.reminder_interval_minutes) if settings.reminder_interval_minutes else None
    )
    remind_before = now - reminder_every if reminder_every else None
    flap = FlapRule(settings.flap_changes, settings.flap_minutes) if settings.flap_changes else None
    result = EvaluationResult()
    with engine.begin() as conn:
        result.unmuted = store.unmute_expired(conn, auto_unmute_cutoff(now, settings.auto_unmute_hours), now)
        # Cron slots that closed without a signal are recorded missed (docs/schedules.md).
        result.slot_outcomes = schedules.sweep(conn, now)
        to_open, to_close, to_remind = [], [], []
        for candidate in store.candidates(conn, now, remind_before):
            decision = decide(candidate, now, reminder_every)
            if decision is None:
                continue
            bucket = {Action.OPEN: to_open, Action.CLOSE: to_close, Action.REMIND: to_remind}[decision.action]
            bucket.append((candidate, decision.reason))
        if to_close:
            result.closed = store.close_alerts(conn, to_close, now, channels, settings.base_url, flap)
        routes = live_routes(conn)
        if to_open:
            result.opened = store.open_alerts(conn, to_open, now, channels, settings.base_url, routes, flap)
        if to_remind:
            told = [channel for channel in channels if channel_receives(channel, NotificationKind.REMINDER)]
            result.reminded = store.remind(conn, to_remind, now, remind_before, told, settings.base_url)
        result.escalated = escalate(conn, now, routes)
        result.settled = flapping.settle(conn, now, channels, settings.base_url, routes)
    if result.unmuted:
        log.info("auto-unmuted %d services", result.unmuted)
    if result.settled:
        log.info("flapping ended: the state of %d services reported", len(result.settled))
    if result.opened or result.closed:
        log.info("alerts opened: %d, closed: %d", len(result.opened), len(result.closed))
    return result
