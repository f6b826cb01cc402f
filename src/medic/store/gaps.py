"""Medic's own outages in the database: the web mark, the gap rows, and the one UPDATE
that gives the services due inside a gap their fresh window (the rule is
core/deadline.py's ``after_gap``; docs/alerting.md, "When Medic itself was down")."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from medic.core import schedule
from medic.core.deadline import NEVER
from medic.core.gaps import Gap, GapCause, is_gap
from medic.core.model import JOB_RUNNING
from medic.store import worker_state as ws
from medic.store.tables import outage_gaps, services, worker_state

# The worker_state row every web process moves to "now" every few seconds.
WEB_MARK = "web_mark"


def web_mark(conn: Connection) -> datetime | None:
    """When a web process last marked itself up and accepting; None if none ever did."""
    row = ws.get(conn, WEB_MARK)
    return None if row is None else row.updated_at


def mark_web(conn: Connection, now: datetime, gap_seconds: float, cause: GapCause = GapCause.WEB) -> Gap | None:
    """Move the web mark to ``now``. One UPDATE while the mark is fresh; when it was
    older than ``gap_seconds``, the silence is recorded as a gap first (returned to
    the one caller that recorded it)."""
    c = worker_state.c
    fresh_after = now - timedelta(seconds=gap_seconds)
    move = update(worker_state).where(c.name == WEB_MARK, c.updated_at < now).values(value=now.isoformat(), updated_at=now)
    if conn.execute(move.where(c.updated_at >= fresh_after)).rowcount:
        return None
    previous = web_mark(conn)
    if previous is None:
        ws.put(conn, WEB_MARK, now.isoformat(), now)
        return None
    gap = Gap(previous, now, cause) if is_gap(previous, now, gap_seconds) else None
    recorded = gap is not None and record(conn, gap, now)
    conn.execute(move)  # never backwards: a process whose clock is ahead may have moved it
    return gap if recorded else None


def record(conn: Connection, gap: Gap, now: datetime) -> bool:
    """Store a gap unless one with the same start is stored (everyone who sees one
    silence end sees its same start). True for the one caller that stored it."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(outage_gaps)
        .values(started_at=gap.start, ended_at=gap.end, cause=str(gap.cause), detected_at=now)
        .on_conflict_do_nothing(index_elements=["started_at"])
        .returning(outage_gaps.c.gap_id)
    )
    return conn.execute(statement).first() is not None


def _gap(row: Row) -> Gap:
    return Gap(row.started_at, row.ended_at, row.cause)


def unapplied(conn: Connection) -> list[Row]:
    return list(conn.execute(select(outage_gaps).where(outage_gaps.c.applied_at.is_(None)).order_by(outage_gaps.c.ended_at)))


def apply(conn: Connection, row: Row, now: datetime) -> int | None:
    """Give every service due inside the gap ``row`` a fresh window from its end; None
    when another worker applied it first (compare-and-set on applied_at), else how
    many services moved.

    Set-based: one UPDATE for the interval services, and one per cron schedule (an
    expression and zone) found among the cron services due in the gap, since SQL
    cannot compute a next slot. Services already down keep their deadline and alert.
    """
    claimed = conn.execute(
        update(outage_gaps).where(outage_gaps.c.gap_id == row.gap_id, outage_gaps.c.applied_at.is_(None))
        .values(applied_at=now)
    ).rowcount
    if not claimed:
        return None
    s = services.c
    start, end = row.started_at.timestamp(), row.ended_at.timestamp()
    due_in_gap = and_(s.deadline > start, s.deadline <= end, ~s.down)
    moved = conn.execute(
        update(services).where(due_in_gap, s.cron.is_(None))
        .values(deadline=end + s.alert_interval * 60 + s.grace_period_seconds)
    ).rowcount
    zone = func.coalesce(s.timezone, schedule.DEFAULT_TIMEZONE)
    # core.deadline.Settings.slot_window in SQL: the start margin while no run has started, if shorter.
    slot_window = case(
        (or_(s.last_status == JOB_RUNNING, s.start_margin_seconds.is_(None),
             s.grace_period_seconds <= s.start_margin_seconds), s.grace_period_seconds),
        else_=s.start_margin_seconds,
    )
    for expression, zone_name in conn.execute(select(s.cron, zone).distinct().where(due_in_gap, s.cron.is_not(None))).all():
        fresh = schedule.next_slot(schedule.Cron(expression, zone_name), row.ended_at)
        moved += conn.execute(
            update(services).where(due_in_gap, s.cron == bindparam("expression"), zone == bindparam("zone"))
            .values(deadline=NEVER if fresh is None else fresh.timestamp() + slot_window),
            {"expression": expression, "zone": zone_name},
        ).rowcount
    return moved


def ended_since(conn: Connection, when: datetime) -> list[Gap]:
    """The gaps that ended at or after ``when`` (those that can overlap a slot since)."""
    return [_gap(row) for row in conn.execute(
        select(outage_gaps).where(outage_gaps.c.ended_at >= when).order_by(outage_gaps.c.ended_at)
    )]


def last(conn: Connection) -> Gap | None:
    """The newest gap, for /health."""
    row = conn.execute(select(outage_gaps).order_by(outage_gaps.c.ended_at.desc()).limit(1)).first()
    return None if row is None else _gap(row)
