"""Flapping (docs/alerting.md, "Flapping"): a service whose alert opens and closes
more than ``changes`` times in ``minutes`` is flapping. One notice says so, its
pages pause, and once it has made no change for ``minutes`` its current state is
reported once. Pure: the store keeps the few recent change times on the service
row and applies what these functions decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Sequence

from medic.core.model import ChannelName, NotificationKind


@dataclass(frozen=True)
class Rule:
    changes: int  # more than this many state changes (0: never flapping) ...
    minutes: int  # ... within this many minutes

    @property
    def seconds(self) -> int:
        return self.minutes * 60


class Mode(StrEnum):
    NORMAL = "normal"  # notified as usual
    STARTS = "starts"  # this change starts flapping: the one flapping notice
    ONGOING = "ongoing"  # flapping already: recorded, nobody notified


def recent(changes: Sequence[float] | None, now: float, rule: Rule) -> list[float]:
    """The change times after one at ``now``: those within the window, at most
    ``changes + 1`` of them (all the rule needs), oldest first."""
    kept = [t for t in (changes or ()) if t > now - rule.seconds] + [now]
    return kept[-(rule.changes + 1):]


def mode(flapping: bool, changes_now: Sequence[float], rule: Rule) -> Mode:
    """How a state change is notified, given the changes including it (``recent``)."""
    if flapping:
        return Mode.ONGOING
    if rule.changes and len(changes_now) > rule.changes:
        return Mode.STARTS
    return Mode.NORMAL


def quiet_at(now: float, rule: Rule) -> float:
    """When a flapping service whose last change is at ``now`` counts as stable."""
    return now + rule.seconds


def kind_for(mode: Mode, kind: NotificationKind, channel: str) -> NotificationKind | None:
    """What ``channel`` is sent for a trigger or resolve made in ``mode`` (None: nothing).

    When flapping starts, chat channels get the flapping notice instead; PagerDuty
    gets the trigger of an opening (so one incident is open) and not the resolve of
    a closing (so the incident stays open): one incident for the whole episode,
    resolved or confirmed when the service is stable again (``settled_kind``).
    """
    if mode == Mode.NORMAL:
        return kind
    if mode == Mode.ONGOING:
        return None
    if channel == ChannelName.PAGERDUTY:
        return kind if kind == NotificationKind.TRIGGER else None
    return NotificationKind.FLAPPING


def settled_kind(down: bool) -> NotificationKind:
    """What reports a flapping service's state once it is stable: down, a trigger; up, a resolve."""
    return NotificationKind.TRIGGER if down else NotificationKind.RESOLVE
