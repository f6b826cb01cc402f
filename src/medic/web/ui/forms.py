"""Reading the dashboard's query strings and forms, with the API's own rules."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from medic.core.model import OpenReason, Priority, ServiceState
from medic.core.route_text import may_show, parse_labels, parse_target
from medic.web.schemas import ServiceUpdate

PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 100_000
SEARCH_MAX = 255


class BadInput(Exception):
    """A query or form the page cannot use; the message says what to change."""


def _one(args, name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise BadInput(f"{name}: given more than once")
    value = values[0].strip() if values else ""
    return value or None


def whole_number(args, name: str, default: int, low: int, high: int) -> int:
    value = _one(args, name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadInput(f"{name}: must be a whole number from {low} to {high} (got {value[:40]!r})")
    return int(value)


def text(args, name: str, limit: int = SEARCH_MAX) -> str | None:
    value = _one(args, name)
    if value is not None and (len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value)):
        raise BadInput(f"{name}: must be at most {limit} characters without control characters")
    return value


def states(args) -> tuple[str, ...]:
    chosen = []
    known = [s.value for s in ServiceState]
    for value in args.getlist("state"):
        value = value.strip().lower()
        if not value:
            continue
        if value not in known:
            raise BadInput(f"state: {value[:40]!r} is not one of {', '.join(known)}")
        if value not in chosen:
            chosen.append(value)
    return tuple(chosen)


def priority(args) -> str | None:
    value = _one(args, "priority")
    known = [p.value for p in Priority]
    if value is not None and value.lower() not in known:
        raise BadInput(f"priority: {value[:40]!r} is not one of {', '.join(known)}")
    return value.lower() if value else None


def reason(args) -> str | None:
    value = _one(args, "reason")
    known = [r.value for r in OpenReason]
    if value is not None and value not in known:
        raise BadInput(f"reason: {value[:40]!r} is not one of {', '.join(known)}")
    return value


# The edit form: every field of ServiceUpdate a person edits as text.
EDITABLE = ("service_name", "team", "priority", "alert_interval", "threshold", "grace_period_seconds",
            "max_duration_seconds", "failures_to_open", "successes_to_close", "runbook")
INTEGERS = {"alert_interval", "threshold", "grace_period_seconds", "max_duration_seconds", "failures_to_open",
            "successes_to_close"}
CLEARABLE = {"runbook", "max_duration_seconds"}  # blank clears them


# Edited as text too: labels as `key=value, key=value`, dependencies as heartbeat names.
LABELS_FIELD, DEPENDS_ON_FIELD = "labels", "depends_on"


def labels_text(labels: dict | None) -> str:
    return ", ".join(f"{key}={value}" for key, value in (labels or {}).items())


def service_changes(form, current: Any, depends_on: list[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The changes the edit form asks for, validated by the API's ServiceUpdate, and
    the problems per field. ``depends_on`` is the service's current list (names)."""
    raw: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in EDITABLE:
        if name not in form:
            continue
        value = form.get(name, "").strip()
        if value == "":
            if name in CLEARABLE:
                raw[name] = None
                continue
            raw[name] = value  # refused below with the API's message
            continue
        if name in INTEGERS and (value.isdigit() or (value.startswith("-") and value[1:].isdigit())):
            raw[name] = int(value)
        else:
            raw[name] = value
    changed = {k: v for k, v in raw.items() if getattr(current, k) != v}
    # The text as the page showed it is no change: a label value may hold a comma (the
    # API takes any printable value), which the text cannot tell from a separator.
    if LABELS_FIELD in form and form.get(LABELS_FIELD, "").strip() != labels_text(current.labels):
        try:
            items = _items(form, LABELS_FIELD)
            keys = [item.partition("=")[0].strip() for item in items]
            twice = sorted({key for key in keys if key and keys.count(key) > 1})
            if twice:
                raise ValueError(", ".join(f"{key[:63]!r}" for key in twice) + ": given more than once")
            labels = parse_labels(items)
        except ValueError as exc:
            problems[LABELS_FIELD] = str(exc)
        else:
            if labels != (current.labels or {}):
                changed[LABELS_FIELD] = labels
    if DEPENDS_ON_FIELD in form:
        try:
            names = _items(form, DEPENDS_ON_FIELD)
        except ValueError as exc:
            problems[DEPENDS_ON_FIELD] = str(exc)
        else:
            if [n.lower() for n in names] != [n.lower() for n in depends_on or []]:
                changed[DEPENDS_ON_FIELD] = names
    try:
        parsed = ServiceUpdate.model_validate(changed)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            field = str(err["loc"][0]) if err["loc"] else "form"
            problems.setdefault(field, err["msg"])
    if problems:
        return {}, problems
    return parsed.model_dump(exclude_unset=True), {}


def _items(form, name: str) -> list[str]:
    """A one-line field's comma-separated items; ValueError for a control character
    (str.splitlines would take \\x0b, \\x0c or \\x1c-\\x1e for a separator)."""
    text = form.get(name, "")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("must not contain control characters (newlines, tabs, NUL)")
    return [item.strip() for item in text.split(",") if item.strip()]


def _lines(form, name: str, *, commas: bool = False) -> list[str]:
    text = form.get(name, "")
    if commas:  # not for targets: email=a@x,b@x holds commas
        text = text.replace(",", "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]


def route_body(form) -> dict[str, Any]:
    """The route form as a POST /v2/routes body: targets one TYPE=VALUE per line, as
    `medic route add --target` takes them; labels KEY=VALUE, by line or comma. The
    API's schema judges the rest."""
    secret = form.get("webhook_secret", "").strip() or None
    try:
        match: dict[str, Any] = {}
        for name in ("team", "priority"):
            if form.get(name, "").strip():
                match[name] = form[name].strip()
        labels = _lines(form, "labels", commas=True)
        if labels:
            match["labels"] = parse_labels(labels)
        body: dict[str, Any] = {"name": form.get("name", "").strip(), "match": match,
                                "targets": [parse_target(t, secret) for t in _lines(form, "targets")]}
        escalate_to = [parse_target(t, secret) for t in _lines(form, "escalate_to")]
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    minutes = form.get("escalate_after_minutes", "").strip()
    if minutes or escalate_to:
        body["escalate_after_minutes"] = int(minutes) if minutes.isdigit() else minutes or None
        body["escalate_to"] = escalate_to
    return body


def route_form_echo(form) -> dict[str, str]:
    """The route form to fill in again after a refusal, without its secrets."""
    echo = {name: form.get(name, "") for name in ("name", "team", "priority", "labels", "escalate_after_minutes")}
    for name in ("targets", "escalate_to"):
        echo[name] = "\n".join(line for line in _lines(form, name) if may_show(line))
    return echo
