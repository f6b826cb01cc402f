"""What `medic apply` would change, worked out without I/O.

The desired Document and the server's current state (as the API lists it) are both
brought to one normal form per entry, the same form `medic export` writes, and
compared field by field. A plan is a list of changes, each carrying the HTTP calls
that make it; executing them is the remote module's job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import quote

from medic.core.model import DEFAULT_PRIORITY, DEFAULT_TEAM
from medic.declarative.document import Document

MASK = "********"  # how the routes API shows a secret it holds encrypted
STORED = {"stored": True}

CREATE, UPDATE, UNCHANGED, DEACTIVATE, REMOVE, LEAVE = "create", "update", "unchanged", "deactivate", "remove", "leave"
ENDED = "ended"  # a one-off maintenance window over before the apply: nothing to send


@dataclass(frozen=True)
class State:
    """The server's services, routes and maintenance windows as its API lists them;
    ``maintenance`` is None when the server has no /v2/maintenance."""

    services: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    maintenance: list[dict[str, Any]] | None


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None


@dataclass(frozen=True)
class Change:
    kind: str  # service, route, maintenance
    key: str
    action: str
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field, current, desired) of an update
    calls: tuple[Call, ...] = ()


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # reasons the plan cannot be applied

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.calls]


# --- normal forms -----------------------------------------------------------------


def _service_path(name: str) -> str:
    return f"/service/{quote(name, safe='')}"


def service_form(service: dict[str, Any]) -> dict[str, Any]:
    """A service of GET /service in the file's form (Service.model_dump(mode="json"))."""
    sched = service["schedule"]
    if sched.get("kind") == "cron":
        schedule = {"interval": None, "threshold": None, "cron": sched["cron"], "timezone": sched["timezone"],
                    "grace": sched.get("grace") or 0, "start_margin": sched.get("start_margin"),
                    "max_runtime": sched.get("max_runtime"), "min_runtime": sched.get("min_runtime")}
    else:
        schedule = {"interval": service["alert_interval"], "threshold": service["threshold"], "cron": None,
                    "timezone": None, "grace": service["grace_period_seconds"], "start_margin": None,
                    "max_runtime": service.get("max_duration_seconds"), "min_runtime": None}
    return {
        "heartbeat_name": service["heartbeat_name"],
        "service_name": service["service_name"],
        "schedule": schedule,
        "team": service["team"],
        "priority": service["priority"],
        "runbook": service.get("runbook"),
        "labels": service.get("labels") or {},
        "active": bool(service["active"]),
    }


def _target_form(target: dict[str, Any]) -> dict[str, Any]:
    return {k: (STORED if v == MASK else v) for k, v in target.items() if k != "id" and v is not None}


def route_form(route: dict[str, Any]) -> dict[str, Any]:
    """A route, from GET /v2/routes or the file, in one form: empty parts left out."""
    match = {k: v for k, v in (route.get("match") or {}).items() if v not in (None, {}, "")}
    form: dict[str, Any] = {"name": route["name"], "match": match,
                            "targets": [_target_form(t) for t in route["targets"]]}
    if route.get("escalate_to"):
        form["escalate_after_minutes"] = route.get("escalate_after_minutes")
        form["escalate_to"] = [_target_form(t) for t in route["escalate_to"]]
    return form


MAINTENANCE_FIELDS = ("services", "team", "labels", "start", "end", "cron", "timezone", "duration_minutes", "reason")


def _utc(value: Any) -> Any:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def maintenance_form(window: dict[str, Any]) -> dict[str, Any]:
    """A maintenance window in one form (UTC times, empty parts left out)."""
    form = {k: window.get(k) for k in MAINTENANCE_FIELDS if window.get(k) not in (None, [], {}, "")}
    if "start" in form or "end" in form:
        for k in ("cron", "timezone", "duration_minutes"):
            form.pop(k, None)
        form.update(start=_utc(form.get("start")), end=_utc(form.get("end")))
    else:
        form.setdefault("timezone", "UTC")
    return form


def _same_window(a: dict[str, Any], b: dict[str, Any]) -> bool:
    key = lambda form: json.dumps({**form, "services": sorted(form.get("services") or [])}, sort_keys=True)  # noqa: E731
    return key(a) == key(b)


# --- requests ---------------------------------------------------------------------


def _schedule_update(schedule: dict[str, Any]) -> dict[str, Any]:
    if schedule["cron"] is None:
        return {"alert_interval": schedule["interval"], "threshold": schedule["threshold"],
                "schedule": {"kind": "interval", "grace": schedule["grace"], "max_runtime": schedule["max_runtime"]}}
    return {"schedule": {"kind": "cron", **{k: schedule[k] for k in
                                            ("cron", "timezone", "grace", "start_margin", "max_runtime", "min_runtime")}}}


def _service_create(spec: dict[str, Any]) -> list[Call]:
    body = {k: spec[k] for k in ("heartbeat_name", "service_name", "team", "priority")}
    if spec["runbook"]:
        body["runbook"] = spec["runbook"]
    if spec["labels"]:
        body["labels"] = spec["labels"]
    schedule = spec["schedule"]
    if schedule["cron"] is None:
        body.update(alert_interval=schedule["interval"], threshold=schedule["threshold"],
                    grace_period_seconds=schedule["grace"], max_duration_seconds=schedule["max_runtime"])
    else:
        body.update(_schedule_update(schedule))
    calls = [Call("POST", "/service", body)]
    if not spec["active"]:
        calls.append(Call("POST", _service_path(spec["heartbeat_name"]), {"active": False}))
    return calls


def _differences(current: dict[str, Any], desired: dict[str, Any], prefix: str = "") -> list[tuple[str, Any, Any]]:
    found = []
    for name, value in desired.items():
        now = current.get(name)
        if isinstance(value, dict) and isinstance(now, dict) and name == "schedule":
            found += _differences(now, value, f"{prefix}{name}.")
        elif now != value:
            found.append((f"{prefix}{name}", now, value))
    found += [(f"{prefix}{name}", current[name], None) for name in current if name not in desired]
    return found


# --- the plan ---------------------------------------------------------------------


def make_plan(document: Document, state: State, *, prune: bool = False, now: datetime | None = None) -> Plan:
    """What to send to make the server match ``document``; ``now``, when given, leaves
    out the one-off maintenance windows already over (the server lists only windows in
    force or upcoming, and refuses to create one that has ended)."""
    plan = Plan()
    _plan_services(plan, document, state, prune)
    _plan_routes(plan, document, state, prune)
    _plan_maintenance(plan, document, state, prune, now)
    return plan


def _plan_services(plan: Plan, document: Document, state: State, prune: bool) -> None:
    current = {s["heartbeat_name"].lower(): service_form(s) for s in state.services}
    wanted = set()
    for service in document.services:
        spec = service.model_dump(mode="json")
        key = spec["heartbeat_name"].lower()
        wanted.add(key)
        have = current.get(key)
        if have is None:
            plan.changes.append(Change("service", spec["heartbeat_name"], CREATE, calls=tuple(_service_create(spec))))
            continue
        spec["heartbeat_name"] = have["heartbeat_name"]  # names are case-insensitive; the stored spelling stays
        diffs = _differences(have, spec)
        if not diffs:
            plan.changes.append(Change("service", have["heartbeat_name"], UNCHANGED))
            continue
        body = {name: spec[name] for name, _, _ in diffs if "." not in name}
        if any(name.startswith("schedule.") for name, _, _ in diffs):
            body.update(_schedule_update(spec["schedule"]))
        plan.changes.append(Change("service", have["heartbeat_name"], UPDATE, tuple(diffs),
                                   (Call("POST", _service_path(have["heartbeat_name"]), body),)))
    for key, have in current.items():
        if key in wanted or not have["active"]:
            continue
        if prune:
            plan.changes.append(Change("service", have["heartbeat_name"], DEACTIVATE,
                                       calls=(Call("POST", _service_path(have["heartbeat_name"]), {"active": False}),)))
        else:
            plan.changes.append(Change("service", have["heartbeat_name"], LEAVE))


def _stored(targets: Iterable[dict[str, Any]]) -> bool:
    return any(value == STORED for target in targets for value in target.values())


def stored_secrets(route: dict[str, Any]) -> bool:
    """Whether a route (in its normal form) holds a secret only the server has."""
    return _stored(route["targets"]) or _stored(route.get("escalate_to") or ())


def _plan_routes(plan: Plan, document: Document, state: State, prune: bool) -> None:
    current = {r["name"]: (r["id"], route_form(r)) for r in state.routes}
    wanted = set()
    for route in document.routes:
        spec = route_form(route.model_dump(mode="json", exclude_none=True))
        name = spec["name"]
        wanted.add(name)
        if name not in current:
            if stored_secrets(spec):
                plan.problems.append(f"route '{name}': a new route cannot use a stored secret; give {{env: NAME}}")
            plan.changes.append(Change("route", name, CREATE, calls=(Call("POST", "/v2/routes", spec),)))
            continue
        route_id, have = current[name]
        diffs = _differences(have, spec)
        if not diffs:
            plan.changes.append(Change("route", name, UNCHANGED))
            continue
        body: dict[str, Any] = {}
        for changed, _, value in diffs:
            body[changed] = value
            if changed in ("targets", "escalate_to") and value and _stored(value):
                plan.problems.append(f"route '{name}': {changed} change, and a stored secret cannot be sent again; "
                                     "give {env: NAME} for it")
        if "escalate_to" in body or "escalate_after_minutes" in body:
            body["escalate_to"] = spec.get("escalate_to")
            body["escalate_after_minutes"] = spec.get("escalate_after_minutes")
        plan.changes.append(Change("route", name, UPDATE, tuple(diffs), (Call("PATCH", f"/v2/routes/{route_id}", body),)))
    for name, (route_id, _) in current.items():
        if name not in wanted:
            if prune:
                plan.changes.append(Change("route", name, REMOVE, calls=(Call("DELETE", f"/v2/routes/{route_id}"),)))
            else:
                plan.changes.append(Change("route", name, LEAVE))


def maintenance_key(form: dict[str, Any]) -> str:
    """How a window is named in the plan: what it covers and when."""
    scope = (f"services {','.join(form['services'])}" if "services" in form else
             f"team {form['team']}" if "team" in form else
             "labels " + ",".join(f"{k}={v}" for k, v in sorted(form.get("labels", {}).items())))
    when = f"{form['start']}..{form['end']}" if "start" in form else (
        f"'{form.get('cron')}' {form.get('timezone')} for {form.get('duration_minutes')} min")
    return f"{scope} {when}"


def _plan_maintenance(plan: Plan, document: Document, state: State, prune: bool, now: datetime | None) -> None:
    wanted = []
    for window in document.maintenance:
        form = maintenance_form(window.model_dump(mode="json"))
        if now is not None and window.end is not None and window.end <= now:
            plan.changes.append(Change("maintenance", maintenance_key(form), ENDED))
        else:
            wanted.append(form)
    if state.maintenance is None:
        if wanted:
            plan.problems.append(f"the file has {len(wanted)} maintenance window(s), but this Medic server has no "
                                 "maintenance API (/v2/maintenance answered 404); upgrade it or remove them")
        return
    left = [(w["id"], maintenance_form(w)) for w in state.maintenance]
    for form in wanted:
        match = next((i for i, (_, have) in enumerate(left) if _same_window(have, form)), None)
        if match is None:
            plan.changes.append(Change("maintenance", maintenance_key(form), CREATE,
                                       calls=(Call("POST", "/v2/maintenance", form),)))
        else:
            left.pop(match)
            plan.changes.append(Change("maintenance", maintenance_key(form), UNCHANGED))
    for window_id, have in left:
        if prune:
            plan.changes.append(Change("maintenance", maintenance_key(have), REMOVE,
                                       calls=(Call("DELETE", f"/v2/maintenance/{window_id}"),)))
        else:
            plan.changes.append(Change("maintenance", maintenance_key(have), LEAVE))


# --- export -----------------------------------------------------------------------

_SERVICE_DEFAULTS = {"team": DEFAULT_TEAM, "priority": DEFAULT_PRIORITY.value, "runbook": None, "labels": {}, "active": True}


def exported(state: State) -> dict[str, Any]:
    """The server's state as a configuration file's content (defaults left out)."""
    services = []
    for service in state.services:
        form = service_form(service)
        form["schedule"] = {k: v for k, v in form["schedule"].items()
                            if v is not None and not (k == "grace" and v == 0) and not (k == "threshold" and v == 1)}
        services.append({k: v for k, v in form.items() if _SERVICE_DEFAULTS.get(k, ...) != v})
    document: dict[str, Any] = {"version": 1, "services": services, "routes": [route_form(r) for r in state.routes]}
    for route in document["routes"]:
        if not route["match"]:
            del route["match"]
    if state.maintenance is not None:
        document["maintenance"] = [maintenance_form(w) for w in state.maintenance]
    return document


# --- text -------------------------------------------------------------------------

_SHOWN = {CREATE: ("+", "create", "created"), UPDATE: ("~", "update", "updated"), UNCHANGED: ("=", "unchanged", "unchanged"),
          DEACTIVATE: ("-", "deactivate", "deactivated"), REMOVE: ("-", "remove", "removed"),
          LEAVE: ("?", "not in the file, left alone (--prune to deactivate or remove)",
                  "not in the file, left alone (--prune to deactivate or remove)"),
          ENDED: ("=", "ended before this apply, left out", "ended before this apply, left out")}


def _shown(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)


def describe(change: Change, done: bool = False) -> list[str]:
    sign, planned, made = _SHOWN[change.action]
    verb = made if done else (f"would {planned}" if change.action in (DEACTIVATE, REMOVE) else planned)
    lines = [f"{sign} {change.kind} {change.key}: {verb}"]
    lines += [f"    {name}: {_shown(old)} -> {_shown(new)}" for name, old, new in change.fields]
    return lines


def summary(plan: Plan, done: bool = False) -> str:
    counts: dict[str, int] = {}
    for change in plan.changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    if not plan.pending:
        return "no changes: Medic matches the file" + (f" ({counts[LEAVE]} not in the file, left alone)" if LEAVE in counts else "")
    words = [(CREATE, "created" if done else "to create"), (UPDATE, "updated" if done else "to update"),
             (DEACTIVATE, "deactivated" if done else "to deactivate"), (REMOVE, "removed" if done else "to remove"),
             (UNCHANGED, "unchanged"), (ENDED, "ended"), (LEAVE, "left alone")]
    return ", ".join(f"{counts[action]} {word}" for action, word in words if counts.get(action))
