"""Routes and their targets (docs/routing.md).

A target's secret fields are stored either as a reference, ``{"env": "NAME"}``
(read from the worker's environment at send time), or sealed with MEDIC_SECRET_KEY
in ``route_targets.secret`` (``config`` then says ``"encrypted"``). Never in clear.

Targets are immutable: replacing a route's targets retires the old rows and adds
new ones, and deleting a route retires its targets and marks it deleted. Retired
targets keep receiving what their alerts still owe them (the resolve of a trigger
they got), so the outbox can always build the channel of a row.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, insert, select, update

from medic.core.routing import Match, Route, Target
from medic.secretbox import SecretBox, SecretUnreadable
from medic.store.tables import route_targets, routes

PAGE, ESCALATION = "page", "escalation"
ENCRYPTED = "encrypted"
MASK = "********"

# The fields of each target type that hold secrets.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "pagerduty": ("routing_key",),
    "slack": ("token",),
    "webhook": ("secret",),
    "email": (),
    "apprise": ("url",),
}


class DuplicateName(Exception):
    pass


def _split(target: Mapping[str, Any], box: SecretBox) -> tuple[str, dict, str | None]:
    """(type, config to store, sealed secret) of a validated target."""
    kind = target["type"]
    config: dict[str, Any] = {}
    sealed: dict[str, str] = {}
    for name, value in target.items():
        if name == "type" or value is None:
            continue
        if name in SECRET_FIELDS[kind] and isinstance(value, str):
            sealed[name] = value
            config[name] = ENCRYPTED
        else:
            config[name] = value
    return kind, config, box.seal(sealed) if sealed else None


def _insert_targets(conn: Connection, route_id: int, role: str, targets: Sequence[Mapping], box: SecretBox, now) -> None:
    rows = []
    for position, target in enumerate(targets):
        kind, config, secret = _split(target, box)
        rows.append({"route_id": route_id, "role": role, "position": position, "type": kind,
                     "config": config, "secret": secret, "created_at": now})
    if rows:
        conn.execute(insert(route_targets), rows)


def _name_taken(conn: Connection, name: str, except_id: int | None = None) -> bool:
    query = select(routes.c.route_id).where(routes.c.name == name, routes.c.deleted_at.is_(None))
    if except_id is not None:
        query = query.where(routes.c.route_id != except_id)
    return conn.execute(query).first() is not None


def create(conn: Connection, spec: Mapping[str, Any], box: SecretBox, now: datetime) -> int:
    """Store a validated route (the POST /v2/routes body as a dict); returns its id."""
    if _name_taken(conn, spec["name"]):
        raise DuplicateName(spec["name"])
    match = spec.get("match") or {}
    route_id = conn.execute(
        insert(routes).values(
            name=spec["name"], match_team=match.get("team"), match_priority=match.get("priority"),
            match_labels=match.get("labels") or None, escalate_after_minutes=spec.get("escalate_after_minutes"),
            created_at=now, updated_at=now,
        ).returning(routes.c.route_id)
    ).scalar_one()
    _insert_targets(conn, route_id, PAGE, spec["targets"], box, now)
    _insert_targets(conn, route_id, ESCALATION, spec.get("escalate_to") or (), box, now)
    return route_id


def update_route(conn: Connection, route_id: int, changes: Mapping[str, Any], box: SecretBox, now: datetime) -> bool:
    """Apply a PATCH: fields given replace the stored ones (``match`` as a whole,
    ``targets`` and ``escalate_to`` as lists). False when the route does not exist."""
    if get_row(conn, route_id) is None:
        return False
    if "name" in changes and _name_taken(conn, changes["name"], route_id):
        raise DuplicateName(changes["name"])
    values: dict[str, Any] = {"updated_at": now}
    if "name" in changes:
        values["name"] = changes["name"]
    if "match" in changes:
        match = changes["match"] or {}
        values.update(match_team=match.get("team"), match_priority=match.get("priority"),
                      match_labels=match.get("labels") or None)
    if "escalate_after_minutes" in changes:
        values["escalate_after_minutes"] = changes["escalate_after_minutes"]
    conn.execute(update(routes).where(routes.c.route_id == route_id).values(**values))
    for field, role in (("targets", PAGE), ("escalate_to", ESCALATION)):
        if field in changes:
            _retire(conn, route_id, role, now)
            _insert_targets(conn, route_id, role, changes[field] or (), box, now)
    return True


def _retire(conn: Connection, route_id: int, role: str | None, now: datetime) -> None:
    query = update(route_targets).where(route_targets.c.route_id == route_id, route_targets.c.retired_at.is_(None))
    if role is not None:
        query = query.where(route_targets.c.role == role)
    conn.execute(query.values(retired_at=now))


def delete(conn: Connection, route_id: int, now: datetime) -> bool:
    done = conn.execute(
        update(routes).where(routes.c.route_id == route_id, routes.c.deleted_at.is_(None)).values(deleted_at=now)
    ).rowcount
    if done:
        _retire(conn, route_id, None, now)
    return bool(done)


def get_row(conn: Connection, route_id: int):
    return conn.execute(select(routes).where(routes.c.route_id == route_id, routes.c.deleted_at.is_(None))).first()


def _live_targets(conn: Connection, route_ids: Sequence[int]) -> dict[int, list]:
    by_route: dict[int, list] = {route_id: [] for route_id in route_ids}
    if not route_ids:
        return by_route
    rows = conn.execute(
        select(route_targets)
        .where(route_targets.c.route_id.in_(route_ids), route_targets.c.retired_at.is_(None))
        .order_by(route_targets.c.route_id, route_targets.c.role, route_targets.c.position)
    )
    for row in rows:
        by_route[row.route_id].append(row)
    return by_route


def masked_target(row) -> dict[str, Any]:
    """A target as the API shows it: secrets given as values are masked."""
    shown: dict[str, Any] = {"id": row.target_id, "type": row.type}
    for name, value in row.config.items():
        shown[name] = MASK if value == ENCRYPTED and name in SECRET_FIELDS.get(row.type, ()) else value
    return shown


def describe(row, targets: Sequence) -> dict[str, Any]:
    """A route as the API shows it."""
    return {
        "id": row.route_id,
        "name": row.name,
        "match": {"team": row.match_team, "priority": row.match_priority, "labels": row.match_labels or {}},
        "targets": [masked_target(t) for t in targets if t.role == PAGE],
        "escalate_after_minutes": row.escalate_after_minutes,
        "escalate_to": [masked_target(t) for t in targets if t.role == ESCALATION],
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def get(conn: Connection, route_id: int) -> dict[str, Any] | None:
    row = get_row(conn, route_id)
    if row is None:
        return None
    return describe(row, _live_targets(conn, [route_id])[route_id])


def list_routes(conn: Connection) -> list[dict[str, Any]]:
    rows = list(conn.execute(select(routes).where(routes.c.deleted_at.is_(None)).order_by(routes.c.route_id)))
    targets = _live_targets(conn, [row.route_id for row in rows])
    return [describe(row, targets[row.route_id]) for row in rows]


def live_routes(conn: Connection) -> list[Route]:
    """Every route with its current targets, for matching (core.routing)."""
    rows = list(conn.execute(select(routes).where(routes.c.deleted_at.is_(None)).order_by(routes.c.route_id)))
    targets = _live_targets(conn, [row.route_id for row in rows])
    found = []
    for row in rows:
        mine = targets[row.route_id]
        found.append(Route(
            route_id=row.route_id,
            name=row.name,
            match=Match(team=row.match_team, priority=row.match_priority, labels=dict(row.match_labels or {})),
            targets=tuple(Target(t.target_id, t.type) for t in mine if t.role == PAGE),
            escalate_after_minutes=row.escalate_after_minutes,
            escalate_to=tuple(Target(t.target_id, t.type) for t in mine if t.role == ESCALATION),
        ))
    return found


def target_row(conn: Connection, target_id: int):
    """A target, retired or not (the outbox may still owe it a resolve)."""
    return conn.execute(select(route_targets).where(route_targets.c.target_id == target_id)).first()


def target_fields(row, box: SecretBox, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A target's fields in clear, for sending only: sealed secrets decrypted,
    references read from the environment. SecretUnreadable names what is missing."""
    environ = os.environ if environ is None else environ
    opened = box.open(row.secret) if row.secret else {}
    fields: dict[str, Any] = {}
    for name, value in row.config.items():
        if isinstance(value, dict) and "env" in value:
            if not environ.get(value["env"]):
                raise SecretUnreadable(f"environment variable {value['env']} (the target's {name}) is not set")
            fields[name] = environ[value["env"]]
        elif value == ENCRYPTED and name in SECRET_FIELDS.get(row.type, ()):
            if name not in opened:
                raise SecretUnreadable(f"the target's {name} is missing from its stored secret")
            fields[name] = opened[name]
        else:
            fields[name] = value
    return fields
