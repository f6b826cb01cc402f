"""Which targets an alert goes to: the routes that match a service (docs/routing.md).

A route matches a service when every criterion it names holds: its team, its
priority, and each of its labels (``key: value``, all of them). A route naming no
criterion matches every service.

**Most specific wins**: of the matching routes, only those naming the most criteria
fire (team and priority count one each, every label one); routes tied at that
count all fire. So a ``team=db, priority=p1`` route takes the database team's p1
pages from a ``team=db`` route, and two routes at the same specificity (a
``team=db`` route and a ``priority=p1`` route) both get a p1 of the database team.
When no route matches, the channels configured by environment variables fire
(the default route), as they did before routes existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

DEFAULT_ROUTE = "default"


@dataclass(frozen=True)
class Match:
    team: str | None = None
    priority: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def specificity(self) -> int:
        return (self.team is not None) + (self.priority is not None) + len(self.labels)

    def matches(self, team: str, priority: str, labels: Mapping[str, str] | None) -> bool:
        if self.team is not None and self.team != team:
            return False
        if self.priority is not None and self.priority != priority:
            return False
        have = labels or {}
        return all(have.get(key) == value for key, value in self.labels.items())

    def describe(self) -> str:
        """Why a service matched, in words: 'team=db, priority=p1, label env=prod'."""
        parts = []
        if self.team is not None:
            parts.append(f"team={self.team}")
        if self.priority is not None:
            parts.append(f"priority={self.priority}")
        parts += [f"label {key}={value}" for key, value in sorted(self.labels.items())]
        return ", ".join(parts) or "matches every service"


@dataclass(frozen=True)
class Target:
    target_id: int
    channel: str  # a ChannelName


@dataclass(frozen=True)
class Route:
    route_id: int
    name: str
    match: Match
    targets: tuple[Target, ...]
    escalate_after_minutes: int | None = None
    escalate_to: tuple[Target, ...] = ()


def matching_routes(routes: Sequence[Route], team: str, priority: str, labels: Mapping[str, str] | None) -> list[Route]:
    """The routes that fire for a service: the most specific of those matching."""
    matched = [route for route in routes if route.match.matches(team, priority, labels)]
    if not matched:
        return []
    best = max(route.match.specificity for route in matched)
    return [route for route in matched if route.match.specificity == best]


def destinations(
    routes: Sequence[Route], env_channels: Sequence[str], team: str, priority: str, labels: Mapping[str, str] | None
) -> list[tuple[str, int | None]]:
    """(channel, target_id) pairs a trigger goes to; target_id None is the default
    route's channel of that name. A target listed by two firing routes gets one row."""
    fired = matching_routes(routes, team, priority, labels)
    if not fired:
        return [(channel, None) for channel in env_channels]
    seen: dict[int, str] = {}
    for route in fired:
        for target in route.targets:
            seen.setdefault(target.target_id, target.channel)
    return [(channel, target_id) for target_id, channel in seen.items()]
