"""A Healthchecks project's checks (the API v3 listing, ``GET /api/v3/checks/``) into
services (docs/migrating.md, "Coming from Healthchecks"). Pure: the decoded JSON in,
entries and notes out.

- A simple check (``timeout`` and ``grace``, in seconds) is an interval service:
  ``alert_interval`` is the timeout in minutes, rounded up, and the grace is kept.
- A cron check (``schedule``, ``tz``, ``grace``) is a cron service on the same
  expression in the same zone. An OnCalendar schedule (systemd's syntax) has no
  equivalent: the check is skipped with a note.
- Tags are labels: ``key=value`` or ``key:value`` as such, any other tag as ``tag: "true"``.
- A paused check is imported inactive (it is not watched until set active).
- The name is the check's slug, or a slug of its name; ``service_name`` its name.

What Medic has no place for is named per check and left out: allowed ping methods,
email keyword filters, manual resume, and the integrations (routes do that here).
"""

from __future__ import annotations

import math
import re
from typing import Any

from medic.importers.entries import Entry, Parsed, slug, unique_names

LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")
MAX_LABELS = 20
_CRON_FIELDS = 5


class Unreadable(ValueError):
    """Not a checks listing."""


def checks_of(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("checks"), list):
        return [c for c in document["checks"] if isinstance(c, dict)]
    raise Unreadable('expected the JSON of GET /api/v3/checks/: an object with a "checks" list')


def labels_of(tags: str, where: str, notes: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for tag in tags.split():
        key, value = re.split(r"[=:]", tag, maxsplit=1) if re.search(r"[=:].", tag) else (tag, "true")
        if not LABEL_KEY.match(key):
            notes.append(f"{where}: tag {tag!r} left out: a label key is letters, digits and . _ / - (63 at most)")
        elif len(labels) >= MAX_LABELS:
            notes.append(f"{where}: tag {tag!r} left out: at most {MAX_LABELS} labels")
        else:
            labels[key] = value
    return labels


def is_cron(schedule: str) -> bool:
    """Healthchecks tells cron from OnCalendar by the expression: cron has five fields
    of digits, names and * , - /; OnCalendar has dates, times with colons, or words."""
    fields = schedule.split()
    return len(fields) == _CRON_FIELDS and "\n" not in schedule.strip() and all(
        re.fullmatch(r"[0-9A-Za-z*,/\-?LW#]+", f) for f in fields) and ":" not in schedule


def _left_out(check: dict[str, Any]) -> list[str]:
    found = []
    if (check.get("methods") or "") != "":
        found.append(f"methods {check['methods']!r} (Medic takes POST heartbeats)")
    filters = [k for k in ("subject", "subject_fail", "start_kw", "success_kw", "failure_kw") if check.get(k)]
    if check.get("filter_subject") or check.get("filter_body") or filters:
        found.append("email filters (" + ", ".join(filters or ["filter_subject/filter_body"]) + ")")
    if check.get("manual_resume"):
        found.append("manual_resume")
    return found


def parse(document: Any, *, prefix: str = "") -> Parsed:
    parsed = Parsed()
    found = []  # (where, name, spec, key)
    with_channels = 0
    for index, check in enumerate(checks_of(document)):
        label = check.get("name") or check.get("slug") or check.get("uuid") or check.get("unique_key") or f"#{index + 1}"
        where = f"check {label!r}"
        name = slug(str(check.get("slug") or ""), 255) or slug(str(check.get("name") or ""), 255)
        if not name:
            ident = str(check.get("uuid") or check.get("unique_key") or index + 1)
            name = f"hc-{slug(ident)[:12]}"
        grace = check.get("grace")
        if not isinstance(grace, int) or isinstance(grace, bool) or grace < 0:
            parsed.notes.append(f"{where}: skipped: grace {grace!r} is not a number of seconds")
            continue
        schedule = check.get("schedule")
        if isinstance(schedule, str) and schedule.strip():
            if not is_cron(schedule):
                parsed.notes.append(f"{where}: skipped: the OnCalendar schedule {schedule.strip()!r} has no "
                                    "equivalent in Medic; give it a cron schedule")
                continue
            sched: dict[str, Any] = {"cron": " ".join(schedule.split()), "timezone": check.get("tz") or "UTC",
                                     "grace": grace}
        elif isinstance(check.get("timeout"), int) and check["timeout"] > 0:
            timeout = check["timeout"]
            sched = {"interval": math.ceil(timeout / 60), "threshold": 1, "grace": grace}
            if timeout % 60:
                parsed.notes.append(f"{where}: timeout {timeout} s rounded up to {sched['interval']} minutes")
        else:
            parsed.notes.append(f"{where}: skipped: neither a timeout nor a schedule")
            continue
        spec: dict[str, Any] = {"service_name": str(check.get("name") or name)[:255], "schedule": sched}
        labels = labels_of(str(check.get("tags") or ""), where, parsed.notes)
        if labels:
            spec["labels"] = labels
        spec["active"] = check.get("status") != "paused"  # resumed in Healthchecks, active again here
        for what in _left_out(check):
            parsed.notes.append(f"{where}: left out: {what}")
        if check.get("channels"):
            with_channels += 1
        found.append((where, prefix + name, spec, str(check.get("uuid") or check.get("unique_key") or label)))
    names = unique_names([f[1] for f in found], [f[3] for f in found], [f[0] for f in found], parsed.notes)
    for name, (where, _, spec, _) in zip(names, found):
        parsed.entries.append(Entry({"heartbeat_name": name, **spec}, where))
    if with_channels:
        parsed.notes.append(f"{with_channels} check(s) have integrations (channels): they are not imported; "
                            "give Medic routes for them (docs/routing.md)")
    return parsed
