"""Dependencies between services (docs/alerting.md, "Dependencies"): the rules, free of I/O.

A service names the services it depends on (its parents). When it goes down while a
parent, directly or through others, has an open alert, its alert opens suppressed:
recorded, no page. Services are ids here; the graph is ``parents_of``: service id to
the ids it depends on, holding at least the ancestors of the services asked about
(the store loads them layer by layer, ``MAX_DEPTH`` layers at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

# How far up the worker follows dependencies (layers), and how many ancestors a
# cycle check may load: bounds on every walk whatever the graph.
MAX_DEPTH = 16
MAX_ANCESTORS = 10_000
MAX_DEPENDS_ON = 50  # names in one service's depends_on

ParentsOf = Mapping[int, Sequence[int]]


class DependencyError(ValueError):
    """A depends_on list that cannot be stored; the message names the problem."""


@dataclass(frozen=True)
class OpenAlert:
    """An ancestor's open alert as the rule sees it."""

    alert_id: int | None  # None: being opened this cycle
    suppressed: bool


def ancestors(service_id: int, parents_of: ParentsOf, max_depth: int = MAX_DEPTH) -> list[int]:
    """The service's ancestors, nearest first (breadth first, ties by id), at most
    ``max_depth`` layers up; a cycle (which writes refuse) cannot loop."""
    seen = {service_id}
    found: list[int] = []
    layer = [service_id]
    for _ in range(max_depth):
        nxt = sorted({p for s in layer for p in parents_of.get(s, ()) if p not in seen})
        if not nxt:
            break
        seen.update(nxt)
        found += nxt
        layer = nxt
    return found


def suppressor(service_id: int, parents_of: ParentsOf, open_alerts: Mapping[int, OpenAlert]) -> int | None:
    """The ancestor whose open alert suppresses this service's, or None (it pages).

    The nearest ancestor whose alert paged wins; failing one, the nearest whose
    alert is itself suppressed (its parent recovered, its own grace still running).
    """
    up = [a for a in ancestors(service_id, parents_of) if a in open_alerts]
    paged = [a for a in up if not open_alerts[a].suppressed]
    return (paged or up or [None])[0]


def plan_openings(opening: Iterable[int], parents_of: ParentsOf,
                  open_alerts: Mapping[int, OpenAlert]) -> dict[int, int | None]:
    """For services opening alerts together: who suppresses each (None: it pages).

    A service opening in the same cycle counts as open for its descendants, so a
    chain that goes down at once pages only for its top. Ancestors are settled first.
    """
    opening = set(opening)
    state = dict(open_alerts)
    plan: dict[int, int | None] = {}

    def settle(service_id: int, path: frozenset) -> None:
        if service_id in plan:
            return
        for a in ancestors(service_id, parents_of):
            if a in opening and a not in plan and a not in path:
                settle(a, path | {service_id})
        plan[service_id] = suppressor(service_id, parents_of, state)
        state[service_id] = OpenAlert(None, plan[service_id] is not None)

    for service_id in sorted(opening):
        settle(service_id, frozenset())
    return plan


def paged_for(plan: Mapping[int, int | None], alert_of: Mapping[int, int]) -> dict[int, int]:
    """The suppressed services of ``plan`` mapped to the alert of the service that
    suppresses them (``alert_of``: service id to its open alert id)."""
    return {s: alert_of[p] for s, p in plan.items() if p is not None and p in alert_of}


def affected_by(plan: Mapping[int, int | None]) -> dict[int, list[int]]:
    """The services each paging service of ``plan`` suppresses, directly or through a
    suppressed one (for its page), in id order."""
    def root(s: int) -> int:
        seen = set()
        while plan.get(s) is not None and s not in seen:
            seen.add(s)
            s = plan[s]
        return s

    out: dict[int, list[int]] = {}
    for s in sorted(plan):
        if plan[s] is not None:
            out.setdefault(root(s), []).append(s)
    return out


def check_depends_on(service_id: int | None, parents: Sequence[int], parents_of: ParentsOf, *,
                     truncated: bool, names: Mapping[int, str]) -> None:
    """Raise DependencyError unless ``service_id`` (None: a new service) may depend on
    ``parents``; ``parents_of`` holds the edges above ``parents``, ``truncated`` says
    the store stopped loading them at MAX_ANCESTORS."""
    if len(parents) > MAX_DEPENDS_ON:
        raise DependencyError(f"at most {MAX_DEPENDS_ON} services")
    if service_id is not None and service_id in parents:
        raise DependencyError(f"'{names[service_id]}' cannot depend on itself")
    if service_id is None or not parents:
        return  # a new service has no dependents: nothing can lead back to it
    if truncated:
        raise DependencyError(f"the services named have more than {MAX_ANCESTORS} ancestors")
    path = cycle_path(service_id, parents, parents_of)
    if path:
        raise DependencyError("would make a cycle: " + " -> ".join(names.get(s, str(s)) for s in path))


def cycle_path(service_id: int, parents: Sequence[int], parents_of: ParentsOf) -> list[int] | None:
    """The path service -> parent -> ... -> service that new edges service -> ``parents``
    would close, or None. ``parents_of`` holds the existing edges above ``parents``."""
    back = {p: service_id for p in parents}
    layer = sorted(set(parents))
    seen = set(layer)
    while layer:
        nxt = []
        for s in layer:
            for p in parents_of.get(s, ()):
                if p == service_id:
                    path = [s]
                    while path[-1] != service_id:
                        path.append(back[path[-1]])
                    return list(reversed(path)) + [service_id]
                if p not in seen:
                    seen.add(p)
                    back[p] = s
                    nxt.append(p)
        layer = sorted(nxt)
    return None
