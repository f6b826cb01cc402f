"""Dependencies in the database: the edges, suppressed openings and their release.

The rules are core/dependencies.py; here the graph is loaded only above the services
a cycle opens or releases (layer by layer, bounded), never whole.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import Connection, and_, delete, false, func, insert, or_, select, text, true, update

from medic.core import dependencies as rules
from medic.core.flapping import Rule as FlapRule
from medic.core.maintenance import Window, window_at
from medic.core.model import ChannelName, NotificationKind, OutboxState
from medic.core.routing import Route
from medic.core.transitions import Candidate
from medic.store import transitions as store
from medic.store.tables import alerts, notifications, service_dependencies, services

edges = service_dependencies.c


def parents_above(conn: Connection, service_ids: Sequence[int], *, max_depth: int = rules.MAX_DEPTH,
                  max_nodes: int = rules.MAX_ANCESTORS) -> tuple[dict[int, list[int]], bool]:
    """The edges above ``service_ids`` (child to parents), ``max_depth`` layers up, and
    whether loading stopped at ``max_nodes`` services."""
    graph: dict[int, list[int]] = {}
    seen = set(service_ids)
    layer = sorted(seen)
    for _ in range(max_depth):
        found = []
        for chunk in store._id_chunks(conn, layer, edges.service_id):
            found += conn.execute(select(edges.service_id, edges.depends_on_id).where(chunk)).all()
        nxt = set()
        for child, parent in found:
            graph.setdefault(child, []).append(parent)
            if parent not in seen:
                nxt.add(parent)
        if not nxt:
            return graph, False
        seen |= nxt
        if len(seen) > max_nodes:
            return graph, True
        layer = sorted(nxt)
    return graph, False


def depends_on_names(conn: Connection, service_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each service's dependencies by heartbeat name, sorted (for replies)."""
    out: dict[int, list[str]] = {service_id: [] for service_id in service_ids}
    if not service_ids:
        return out
    for chunk in store._id_chunks(conn, list(service_ids), edges.service_id):
        for child, name in conn.execute(
            select(edges.service_id, services.c.heartbeat_name)
            .join(services, services.c.service_id == edges.depends_on_id).where(chunk)
        ):
            out[child].append(name)
    return {service_id: sorted(names, key=str.lower) for service_id, names in out.items()}


def parents_named(conn: Connection, names: Sequence[str]) -> dict[int, str]:
    """The services named (case-insensitive), id to heartbeat name; DependencyError
    naming every unknown one."""
    wanted = {name.lower(): name for name in names}
    found = {}
    lowered = sorted(wanted)
    for start in range(0, len(lowered), store.CHUNK):
        for row in conn.execute(select(services.c.service_id, services.c.heartbeat_name).where(
                func.lower(services.c.heartbeat_name).in_(lowered[start:start + store.CHUNK]))):
            found[row.heartbeat_name.lower()] = (row.service_id, row.heartbeat_name)
    unknown = [wanted[name] for name in lowered if name not in found]
    if unknown:
        raise rules.DependencyError("no service is registered as " + ", ".join(f"'{name}'" for name in unknown))
    return dict(found.values())


def set_depends_on(conn: Connection, service_id: int, own_name: str, names: Sequence[str]) -> None:
    """Replace the service's dependencies with ``names``; DependencyError (nothing
    written) for an unknown name or a cycle."""
    # Two writes checking at once could each close half of a cycle: one at a time.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('medic.service_dependencies'))"))
    else:  # SQLite has one writer: take its lock before reading what the check reads
        conn.execute(update(services).where(services.c.service_id == service_id)
                     .values(date_modified=services.c.date_modified))
    names_by_id = parents_named(conn, names)
    parents = sorted(names_by_id)
    graph, truncated = parents_above(conn, parents, max_depth=rules.MAX_ANCESTORS) if parents else ({}, False)
    names_by_id[service_id] = own_name
    cycle_ids = set(graph) | {p for ps in graph.values() for p in ps}
    missing = sorted(cycle_ids - set(names_by_id))
    if missing:
        for chunk in store._id_chunks(conn, missing):
            names_by_id.update(conn.execute(select(services.c.service_id, services.c.heartbeat_name).where(chunk)).all())
    rules.check_depends_on(service_id, parents, graph, truncated=truncated, names=names_by_id)
    conn.execute(delete(service_dependencies).where(edges.service_id == service_id))
    if parents:
        conn.execute(insert(service_dependencies), [{"service_id": service_id, "depends_on_id": p} for p in parents])


def _open_alerts_of(conn: Connection, service_ids: Sequence[int]) -> dict[int, tuple[int, bool]]:
    """The open alert (id, suppressed) of each of ``service_ids`` that has one."""
    out = {}
    for chunk in store._id_chunks(conn, sorted(service_ids), alerts.c.service_id):
        for row in conn.execute(select(alerts.c.service_id, alerts.c.alert_id, alerts.c.suppressed)
                                .where(chunk, alerts.c.active == true())):
            out[row.service_id] = (row.alert_id, bool(row.suppressed))
    return out


def _open_state(conn: Connection, graph: dict[int, list[int]]) -> dict[int, tuple[int, bool]]:
    above = {p for parents in graph.values() for p in parents}
    return _open_alerts_of(conn, sorted(above)) if above else {}


def open_alerts(
    conn: Connection,
    decided: Sequence[tuple[Candidate, str]],
    now: datetime,
    channels: Sequence[str],
    base_url: str | None,
    routes: Sequence[Route] = (),
    open_through: float | None = None,
    flap: FlapRule | None = None,
) -> tuple[list[int], list[int]]:
    """store.transitions.open_alerts, with the alerts of services below an open alert
    opened suppressed (core.dependencies.plan_openings). Returns (opened, suppressed)."""
    ids = [c.service_id for c, _ in decided]
    graph, _ = parents_above(conn, ids)
    if not graph:  # no dependencies among these: the common case, one query
        return store.open_alerts(conn, decided, now, channels, base_url, routes, open_through, flap=flap), []
    state = _open_state(conn, graph)
    plan = rules.plan_openings(ids, graph, {s: rules.OpenAlert(a, sup) for s, (a, sup) in state.items()})
    alert_of = {s: alert_id for s, (alert_id, _) in state.items()}
    by_id = {c.service_id: (c, reason) for c, reason in decided}
    opened: list[int] = []
    suppressed: list[int] = []
    waiting = dict(plan)
    while waiting:
        # Those whose suppressor is settled (open before, or opened in an earlier round).
        ready = {s: p for s, p in waiting.items() if p is None or p not in waiting}
        if not ready:  # cannot happen (plan_openings points only at settled services); never loop
            ready = dict.fromkeys(waiting)
        missing = sorted({p for p in ready.values() if p is not None and p not in alert_of})
        if missing:  # opened by this cycle's earlier rounds, or by another worker
            alert_of.update({s: a for s, (a, _) in _open_alerts_of(conn, missing).items()})
        # A suppressor whose alert did not open after all (a heartbeat came): page.
        held = rules.paged_for(ready, alert_of)
        new = store.open_alerts(conn, [by_id[s] for s in sorted(ready)], now, channels, base_url, routes, open_through,
                               suppressed_by=held, flap=flap)
        opened += new
        if held:
            mine = set(new)
            suppressed += [a for a, _ in _open_alerts_of(conn, sorted(held)).values() if a in mine]
        for s in ready:
            del waiting[s]
    note_affected(conn, suppressed, now)
    return sorted(opened), sorted(suppressed)


def note_affected(conn: Connection, child_alert_ids: Sequence[int], now: datetime) -> None:
    """Tell the parents of newly suppressed alerts: a parent's trigger still waiting to
    be sent names every service it suppresses; once sent, its Slack thread gets a note
    naming the new ones (Slack only: a note wakes nobody)."""
    if not child_alert_ids:
        return
    child = alerts.alias("child")
    new: dict[int, list[str]] = {}
    for chunk in store._id_chunks(conn, list(child_alert_ids), child.c.alert_id):
        for parent_id, name in conn.execute(
            select(child.c.suppressed_by, services.c.heartbeat_name)
            .join(services, services.c.service_id == child.c.service_id).where(chunk, child.c.suppressed == true())
        ):
            new.setdefault(parent_id, []).append(name)
    if not new:
        return
    parent_ids = sorted(new)
    every: dict[int, list[str]] = {a: [] for a in parent_ids}
    for chunk in store._id_chunks(conn, parent_ids, child.c.suppressed_by):
        for parent_id, name in conn.execute(
            select(child.c.suppressed_by, services.c.heartbeat_name)
            .join(services, services.c.service_id == child.c.service_id)
            .where(chunk, child.c.active == true(), child.c.suppressed == true())
        ):
            every[parent_id].append(name)
    n = notifications.c
    notes = []
    for chunk in store._id_chunks(conn, parent_ids, n.alert_id):
        triggers = conn.execute(select(n.notification_id, n.alert_id, n.channel, n.target_id, n.state, n.payload)
                                .where(chunk, n.kind == NotificationKind.TRIGGER)
                                .order_by(n.notification_id)).all()
        for row in triggers:
            if row.state == OutboxState.PENDING:
                affected = sorted(every[row.alert_id], key=str.lower)
                # Only while still pending: a trigger being sent keeps what it was built with.
                if conn.execute(update(notifications).where(n.notification_id == row.notification_id,
                                                            n.state == OutboxState.PENDING)
                                .values(payload={**row.payload, "affected": affected})).rowcount:
                    continue
            if row.channel == ChannelName.SLACK and row.state != OutboxState.FAILED:
                notes.append(store._notification(
                    row.alert_id, row.channel, NotificationKind.NOTE,
                    {**row.payload, "event": NotificationKind.NOTE, "affected": sorted(new[row.alert_id], key=str.lower),
                     "occurred_at": now.isoformat()},
                    now, row.target_id))
    if notes:
        conn.execute(insert(notifications), notes)


def release_due(
    conn: Connection,
    now: datetime,
    grace: timedelta,
    channels: Sequence[str],
    base_url: str | None,
    routes: Sequence[Route] = (),
    windows: Sequence[Window] = (),
) -> list[int]:
    """Suppressed alerts whose parent's alert closed ``grace`` ago or more: suppressed
    by another open ancestor now if one has an open alert, else they page on their own
    (not while a maintenance window covers them: they wait for its end, as an alert
    opening in it would). Returns the alert ids released."""
    child, parent = alerts.alias("child"), alerts.alias("parent")
    due = conn.execute(
        select(child.c.alert_id, child.c.service_id, child.c.suppressed_by)
        .select_from(child.outerjoin(parent, parent.c.alert_id == child.c.suppressed_by))
        .where(child.c.active == true(), child.c.suppressed == true(),
               or_(parent.c.alert_id.is_(None), and_(parent.c.active == false(), parent.c.closed_date <= now - grace)))
        .order_by(child.c.service_id)
    ).all()
    if not due:
        return []
    graph, _ = parents_above(conn, [row.service_id for row in due])
    state = _open_state(conn, graph)
    open_now = {s: rules.OpenAlert(a, sup) for s, (a, sup) in state.items()}
    repointed: set[int] = set()
    to_release = []
    for row in due:
        by = rules.suppressor(row.service_id, graph, open_now)
        if by is None:
            to_release.append(row)
            continue
        won = conn.execute(update(alerts).where(alerts.c.alert_id == row.alert_id, alerts.c.active == true(),
                                                alerts.c.suppressed == true(), alerts.c.suppressed_by == row.suppressed_by)
                           .values(suppressed_by=state[by][0])).rowcount
        if won:
            repointed.add(row.alert_id)
    released = _release(conn, to_release, now, channels, base_url, routes, windows)
    note_affected(conn, sorted(repointed), now)
    return released


def _release(conn: Connection, rows: Sequence, now: datetime, channels: Sequence[str], base_url: str | None,
             routes: Sequence[Route], windows: Sequence[Window] = ()) -> list[int]:
    """Turn suppressed alerts into normal ones and queue their triggers, once across
    workers (compare-and-set on ``suppressed``). A muted service waits for its unmute,
    one in a maintenance window for the window's end."""
    if not rows:
        return []
    candidates = {c.service_id: c for c in store.candidates_of(conn, [row.service_id for row in rows])}
    opened = []
    for row in rows:
        c = candidates.get(row.service_id)
        if c is None or c.muted or not c.active:
            continue
        if windows and window_at(windows, c.service_id, c.team, c.labels, now) is not None:
            continue
        alert = conn.execute(
            update(alerts)
            .where(alerts.c.alert_id == row.alert_id, alerts.c.active == true(), alerts.c.suppressed == true(),
                   alerts.c.suppressed_by.is_not_distinct_from(row.suppressed_by))
            # The page is its first notice: reminders count from now.
            .values(suppressed=False, released_at=now, last_reminded_at=now)
            .returning(alerts.c.alert_id, alerts.c.open_reason, alerts.c.external_reference_id, alerts.c.alert_name,
                       alerts.c.created_date)
        ).first()
        if alert is not None:
            opened.append((c, alert.open_reason, alert.alert_id, alert.external_reference_id, alert.alert_name,
                           alert.created_date))
    store.queue_triggers(conn, opened, now, channels, base_url, routes)
    return [alert_id for _, _, alert_id, _, _, _ in opened]
