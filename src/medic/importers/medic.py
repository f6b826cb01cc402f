"""The original Medic's rows (store/original_medic.py) in Medic's terms, for
`medic import medic` (docs/migrating.md, "Coming from the original Medic"). Pure.

A service keeps its settings (interval, threshold, team, priority, runbook, grace,
max duration), its active and muted state and when it was added. Its heartbeats
within Medic's retention come along, job signals as Medic stores them (STARTED and
COMPLETED as UP, FAILED as DOWN). Its open alert comes along with its PagerDuty dedup
key (the original's ``external_reference_id``, ``medic-<heartbeat_name>``), so the
resolve Medic sends closes the incident the original opened.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from medic.core.model import DEFAULT_PRIORITY, DEFAULT_TEAM, OpenReason, Priority, Status
from medic.web.schemas import NAME_PATTERN, URL_PATTERN

_NAME = re.compile(NAME_PATTERN)
_URL = re.compile(URL_PATTERN)
# The original's job signals, as Medic's job routes store them (core/jobs.py HEARTBEAT_STATUS).
_STATUSES = {"UP": Status.UP, "DOWN": Status.DOWN, "DEGRADED": Status.DEGRADED,
             "STARTED": Status.UP, "COMPLETED": Status.UP, "FAILED": Status.DOWN}
TEXT_LIMIT = 255
INTERVAL_LIMIT = 525600
COUNT_LIMIT = 10000


@dataclass
class Service:
    """One service to create: ``values`` for store/services.create, then its state."""

    heartbeat_name: str
    values: dict[str, Any]
    active: bool
    muted: bool
    date_muted: datetime | None
    date_added: datetime | None
    alert: dict[str, Any] | None = None  # the open alert, as Medic's alerts row
    notes: list[str] = field(default_factory=list)


def _flag(value: Any) -> bool:
    return bool(value) and value != "0"


def service(row: dict[str, Any], open_alert: dict[str, Any] | None) -> tuple[Service | None, list[str]]:
    """The Medic service for an original row, or None and why it cannot be imported."""
    name = str(row.get("heartbeat_name") or "").strip()
    where = f"service {name!r}"
    if not name or len(name) > TEXT_LIMIT or not _NAME.match(name):
        return None, [f"{where}: skipped: a heartbeat_name is letters, digits and . _ : / @ - (255 at most)"]
    interval, threshold = row.get("alert_interval"), row.get("threshold") or 1
    if not isinstance(interval, int) or not 1 <= interval <= INTERVAL_LIMIT:
        return None, [f"{where}: skipped: alert_interval {interval!r} is not 1 to {INTERVAL_LIMIT} minutes"]
    notes = []
    if not 1 <= threshold <= COUNT_LIMIT:
        notes.append(f"{where}: threshold {threshold} out of range, set to 1")
        threshold = 1
    priority = str(row.get("priority") or DEFAULT_PRIORITY).strip().lower()
    if priority not in {p.value for p in Priority}:
        notes.append(f"{where}: priority {row.get('priority')!r} is not p1 to p5, set to {DEFAULT_PRIORITY.value}")
        priority = DEFAULT_PRIORITY.value
    runbook = (row.get("runbook") or "").strip() or None
    if runbook and (len(runbook) > 2048 or not _URL.match(runbook)):
        notes.append(f"{where}: runbook {runbook[:80]!r} left out: not an http(s) URL")
        runbook = None
    max_ms = row.get("max_duration_ms")
    values = {
        "heartbeat_name": name,
        "service_name": _text(row.get("service_name")) or name,
        "alert_interval": interval,
        "threshold": threshold,
        "team": _text(row.get("team")) or DEFAULT_TEAM,
        "priority": priority,
        "runbook": runbook,
        "grace_period_seconds": max(int(row.get("grace_period_seconds") or 0), 0),
        "max_duration_seconds": math.ceil(max_ms / 1000) if isinstance(max_ms, int) and max_ms > 0 else None,
        "labels": {},
    }
    imported = Service(name, values, active=_flag(row.get("active")), muted=_flag(row.get("muted")),
                       date_muted=row.get("date_muted"), date_added=row.get("date_added"), notes=notes)
    if open_alert is not None:
        imported.alert = alert(open_alert, name)
    return imported, notes


def _text(value: Any) -> str | None:
    if value is None:
        return None
    cleaned = "".join(c for c in str(value) if ord(c) >= 32 and ord(c) != 127).strip()
    return cleaned[:TEXT_LIMIT] or None


def alert(row: dict[str, Any], heartbeat_name: str) -> dict[str, Any]:
    """An open alert of the original as a row of Medic's alerts. The dedup key is the
    one the original sent PagerDuty; it stored "NULL" or nothing when the trigger
    failed, and then the key it would have used, ``medic-<heartbeat_name>``, is kept."""
    key = row.get("external_reference_id")
    if not key or key == "NULL":
        key = f"medic-{heartbeat_name}"
    return {
        "alert_name": _text(row.get("alert_name")) or f"{heartbeat_name} is down",
        "external_reference_id": str(key)[:TEXT_LIMIT],
        "open_reason": OpenReason.MISSED_HEARTBEATS.value,
        "created_date": row.get("created_date"),
    }


def heartbeat_status(status: Any) -> str | None:
    """Medic's status for an original heartbeat's, None for one Medic has no use for."""
    found = _STATUSES.get(str(status or "").strip().upper())
    return found.value if found else None
