"""Scopes an API key can hold, what each implies, and the scope a route requires.

- ``heartbeat``: send heartbeats (POST /heartbeat and job signals) and nothing else,
  so a key baked into a cron job cannot read or change anything.
- ``read``: every GET route.
- ``write``: register and update services; implies ``read`` and ``heartbeat``.
- ``admin``: everything (implies all of the above).

A route declares its scope on its ``@operation``; ``open`` means no key at all.
"""

from __future__ import annotations

from typing import Iterable

HEARTBEAT = "heartbeat"
READ = "read"
WRITE = "write"
ADMIN = "admin"
OPEN = "open"

SCOPES = (HEARTBEAT, READ, WRITE, ADMIN)
ROUTE_SCOPES = (*SCOPES, OPEN)

IMPLIES: dict[str, frozenset[str]] = {
    HEARTBEAT: frozenset({HEARTBEAT}),
    READ: frozenset({READ}),
    WRITE: frozenset({WRITE, READ, HEARTBEAT}),
    ADMIN: frozenset(SCOPES),
}


def default_for(method: str) -> str:
    """The scope of a route that declares none: reads need ``read``, anything else ``write``."""
    return READ if method.upper() in ("GET", "HEAD") else WRITE


def route_scope(declared: str, method: str) -> str:
    scope = declared or default_for(method)
    if scope not in ROUTE_SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {', '.join(ROUTE_SCOPES)}")
    return scope


def effective(held: Iterable[str]) -> frozenset[str]:
    """Everything a set of held scopes grants, implications included."""
    granted: set[str] = set()
    for scope in held:
        granted |= IMPLIES.get(scope, frozenset())
    return frozenset(granted)


def grants(held: Iterable[str], needed: str) -> bool:
    return needed == OPEN or needed in effective(held)


def parse(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"heartbeat,read"`` (or spaces, or a list) -> a sorted tuple; raises ValueError naming a bad one."""
    items = text.replace(",", " ").split() if isinstance(text, str) else [s for part in text for s in part.replace(",", " ").split()]
    unknown = [s for s in items if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {', '.join(map(repr, unknown))}; choose from {', '.join(SCOPES)}")
    if not items:
        raise ValueError(f"at least one scope is required; choose from {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in items)
