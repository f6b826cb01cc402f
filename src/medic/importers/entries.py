"""What every importer produces, and how its entries become a configuration document.

An entry holds only what its source says (the schedule, labels, a paused state);
defaults (team, priority, grace given on the command line) fill in only for services
the import creates. A service already in Medic keeps everything the source does not
state, so a second import changes nothing, and settings tuned in Medic since the
first import (team, runbook, a start margin, extra labels) survive a re-import.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pydantic import ValidationError

from medic.declarative.document import Document, Service
from medic.declarative.plan import service_form

NAME_LIMIT = 255  # HeartbeatName's length limit


@dataclass(frozen=True)
class Entry:
    """One service an importer found: ``spec`` is part of a Service in the file's form
    (``heartbeat_name`` and ``schedule`` at least), ``origin`` where it was found
    ("crontab:12", "check 'Backups'"), ``wrapped`` the edit that makes it report."""

    spec: dict[str, Any]
    origin: str
    wrapped: str | None = None

    @property
    def name(self) -> str:
        return self.spec["heartbeat_name"]


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was skipped or left out, and why


def slug(text: str, limit: int = 63) -> str:
    """Lowercase letters, digits and single dashes: "Nightly DB_backup!" -> "nightly-db-backup"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")


def short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def unique_names(names: list[str], keys: list[str], origins: list[str], notes: list[str]) -> list[str]:
    """Names made unique: the first of colliding names keeps it, each later one gets a
    suffix from a hash of its ``key`` (its source line), stable while that line is unchanged."""
    seen: set[str] = set()
    final = []
    for name, key, origin in zip(names, keys, origins):
        if name.lower() in seen:
            renamed = f"{name[:NAME_LIMIT - 7]}-{short_hash(key)}"
            notes.append(f"{origin}: name {name!r} already taken above; named {renamed!r}")
            name = renamed
        seen.add(name.lower())
        final.append(name)
    return final


def _deep(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _deep(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _same_kind(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    return (have.get("cron") is None) == (want.get("cron") is None)


def desired(parsed: Parsed, current: Iterable[Mapping[str, Any]], defaults: Mapping[str, Any]) -> tuple[Document, list[str]]:
    """The document an import applies: each entry over the service Medic holds under its
    name (or over ``defaults`` for a new one), validated one by one. An entry Medic would
    refuse is left out with a note naming where it came from; the others go ahead."""
    existing = {s["heartbeat_name"].lower(): service_form(s) for s in current}
    services, notes = [], []
    for entry in parsed.entries:
        have = existing.get(entry.name.lower())
        if have is None:
            spec = _deep(defaults, entry.spec)
        else:
            base = {k: v for k, v in have.items() if k != "schedule"}
            schedule = entry.spec.get("schedule", {})
            kept = {k: v for k, v in have["schedule"].items() if v is not None}
            base["schedule"] = kept if _same_kind(kept, schedule) else {"grace": kept.get("grace", 0)}
            spec = _deep(base, entry.spec)
            spec["labels"] = {**have["labels"], **entry.spec.get("labels", {})}
        spec["schedule"] = {k: v for k, v in spec["schedule"].items() if v is not None}
        try:
            services.append(Service.model_validate(spec))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'service'}: {e['msg'].removeprefix('Value error, ')}"
                                 for e in exc.errors())
            notes.append(f"{entry.origin}: skipped: {problems}")
    return Document(services=services), notes
