"""Flapping bookkeeping (docs/alerting.md, "Flapping"; the rule is core/flapping.py).

Each open or close the worker won is recorded in ``services.state_changes`` (a few
Unix times) of that one row, so counting costs nothing per cycle beyond the
transitions themselves. A flapping service has ``flap_quiet_at``, the time it counts
as stable; ``settle`` reads only those past it (an index), so a cycle stays
O(services due).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Mapping, Sequence

from sqlalchemy import ARRAY, BigInteger, Connection, any_, bindparam, literal, select, text, update

from medic.core import flapping
from medic.core.maintenance import Window, window_at
from medic.core.model import NotificationKind, OutboxState
from medic.core.routing import Route, destinations
from medic.core.transitions import Candidate, payload
from medic.store.bulk import insert_rows
from medic.store.tables import alerts, notifications, services

SETTLED_PER_CYCLE = 500  # bounds a cycle (and an IN list); the rest settle on the next ones
CHUNK = 500
_CANDIDATE_FIELDS = [f.name for f in fields(Candidate) if f.name in services.c]
_UPDATE_PG = text(
    """
    UPDATE services AS s
    SET state_changes = r.p_changes, flapping_since = r.p_since, flap_quiet_at = r.p_quiet, flap_dedup_key = r.p_key
    FROM json_to_recordset(CAST(:doc AS json))
        AS r(p_sid bigint, p_changes json, p_since timestamptz, p_quiet double precision, p_key varchar)
    WHERE s.service_id = r.p_sid
    """
)


@dataclass(frozen=True)
class Flap:
    mode: flapping.Mode
    changes: int  # state changes in the window, this one included
    dedup_key: str | None  # the episode's (ONGOING) or the one to keep open (STARTS)


NORMAL = Flap(flapping.Mode.NORMAL, 0, None)


def record_changes(conn: Connection, keys: Mapping[int, str], now: datetime, rule: flapping.Rule | None) -> dict[int, Flap]:
    """Record a state change at ``now`` of each service in ``keys`` (the worker won
    its row this transaction), whose value is the dedup key of the alert the change
    concerns; returns how each change is notified."""
    if rule is None or not keys:
        return {}
    epoch = now.timestamp()
    ids = sorted(keys)
    postgres = conn.dialect.name == "postgresql"
    columns = (services.c.service_id, services.c.state_changes, services.c.flapping_since, services.c.flap_dedup_key)
    if postgres:  # one array, one statement
        rows = conn.execute(select(*columns).where(services.c.service_id == any_(literal(ids, ARRAY(BigInteger))))).all()
    else:  # bounded IN lists (SQLite's variable limit)
        rows = [row for start in range(0, len(ids), CHUNK)
                for row in conn.execute(select(*columns).where(services.c.service_id.in_(ids[start:start + CHUNK])))]
    found: dict[int, Flap] = {}
    writes = []
    for row in rows:
        changes = flapping.recent(row.state_changes, epoch, rule)
        mode = flapping.mode(row.flapping_since is not None, changes, rule)
        key = row.flap_dedup_key if mode == flapping.Mode.ONGOING else keys[row.service_id]
        found[row.service_id] = Flap(mode, len(changes), key if mode != flapping.Mode.NORMAL else None)
        flapping_now = mode != flapping.Mode.NORMAL
        writes.append({
            "p_sid": row.service_id, "p_changes": changes,
            "p_since": (row.flapping_since or now) if flapping_now else None,
            "p_quiet": flapping.quiet_at(epoch, rule) if flapping_now else None,
            "p_key": key if flapping_now else None,
        })
    if writes and postgres:
        # A mass outage opens thousands at once: one statement, not one per service.
        document = json.dumps([{**w, "p_since": w["p_since"] and w["p_since"].isoformat()} for w in writes])
        conn.execute(_UPDATE_PG, {"doc": document})
    elif writes:
        conn.execute(
            update(services).where(services.c.service_id == bindparam("p_sid")).values(
                state_changes=bindparam("p_changes", type_=services.c.state_changes.type),
                flapping_since=bindparam("p_since", type_=services.c.flapping_since.type),
                flap_quiet_at=bindparam("p_quiet", type_=services.c.flap_quiet_at.type),
                flap_dedup_key=bindparam("p_key", type_=services.c.flap_dedup_key.type),
            ),
            writes,
        )
    return found


def end(conn: Connection, service_ids: Sequence[int]) -> None:
    """End the flapping episodes of ``service_ids`` without reporting (a deactivation resolves)."""
    for start in range(0, len(service_ids), CHUNK):
        conn.execute(update(services).where(services.c.service_id.in_(service_ids[start:start + CHUNK]))
                     .values(flapping_since=None, flap_quiet_at=None, flap_dedup_key=None))


def event_for(event: dict, kind: NotificationKind, flap: Flap, rule: flapping.Rule | None) -> dict:
    """The payload a channel is sent: the alert event, or, for the change that starts
    flapping, the flapping notice (and PagerDuty's trigger) made of it."""
    if flap.mode != flapping.Mode.STARTS or rule is None:
        return event
    return {**event, "event": kind, "flapping": True, "flap_changes": flap.changes, "flap_minutes": rule.minutes}


def settle(
    conn: Connection,
    now: datetime,
    channels: Sequence[str],
    base_url: str | None,
    routes: Sequence[Route] = (),
    windows: Sequence[Window] = (),
) -> list[int]:
    """Report the state of flapping services stable since their flap_quiet_at, once:
    a trigger of the open alert if down (unless muted), else a resolve of the newest
    alert. The compare-and-set on flap_quiet_at makes it once across workers. A service
    down in a maintenance window pages at the window's end, not in it: its flap_quiet_at
    moves there (out of this query's way meanwhile). Returns the alert ids reported."""
    epoch = now.timestamp()
    query = (select(services).where(services.c.flap_quiet_at <= epoch)
             .order_by(services.c.flap_quiet_at).limit(SETTLED_PER_CYCLE))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=services)
    due = {row.service_id: row for row in conn.execute(query)}
    for service_id, row in list(due.items()):
        held = row.down and windows and window_at(windows, service_id, row.team, row.labels, now)
        if held:
            conn.execute(update(services).where(services.c.service_id == service_id,
                                                services.c.flap_quiet_at <= epoch)
                         .values(flap_quiet_at=held[1].timestamp()))
            del due[service_id]
    if not due:
        return []
    won = conn.execute(
        update(services)
        .where(services.c.service_id.in_(sorted(due)), services.c.flap_quiet_at <= epoch)
        .values(flapping_since=None, flap_quiet_at=None, flap_dedup_key=None)
        .returning(services.c.service_id)
    ).scalars().all()
    reported, outbox = [], []
    for service_id in sorted(won):
        row = due[service_id]
        alert = conn.execute(
            select(alerts).where(alerts.c.service_id == service_id).order_by(alerts.c.alert_id.desc()).limit(1)
        ).first()
        if alert is None or alert.active != row.down or (row.down and row.muted):
            continue
        if row.down and alert.suppressed:  # below an open alert: it pages when released (store/dependencies.py)
            continue
        kind = flapping.settled_kind(row.down)
        c = Candidate(**{name: row._mapping[name] for name in _CANDIDATE_FIELDS},
                      alert_id=alert.alert_id, alert_created=alert.created_date)
        event = payload(
            kind, c, alert_id=alert.alert_id, dedup_key=alert.external_reference_id, name=alert.alert_name,
            reason=alert.open_reason if row.down else (alert.close_reason or alert.open_reason),
            opened_at=alert.created_date, closed_at=alert.closed_date, now=now, base_url=base_url,
        )
        event["flapping_ended"] = True
        reported.append(alert.alert_id)
        outbox += [
            {"alert_id": alert.alert_id, "channel": channel, "target_id": target_id, "kind": kind, "payload": event,
             "state": OutboxState.PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
            for channel, target_id in destinations(routes, channels, c.team, c.priority, c.labels)
        ]
    insert_rows(conn, notifications, outbox)
    return reported

