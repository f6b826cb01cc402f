"""Interval services' windows, derived on read from heartbeat_events (the rules are
core/windows.py's; docs/schedules.md, "Slot history").

Nothing is written per heartbeat: the stretches that matter (between successes
longer than alert_interval, and changes to and from DOWN) are found in SQL with
window functions over the index on (service_id, time), so a service that beats
every second sends a handful of rows to Python, not its heartbeats.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import Connection, case, extract, func, or_, select

from medic.core import windows
from medic.core.maintenance import window_over
from medic.core.model import GOOD_STATUSES, Status
from medic.store import gaps as outage_gaps
from medic.store import maintenance
from medic.store.tables import heartbeat_events, service_slots

# The ratios' periods, in days (GET /service/<name>).
RATIO_DAYS = (7, 30)
# The SQL keeps a gap when it may be longer than alert_interval; Python decides exactly
# (SQLite's julianday arithmetic is good to well under this).
_SLACK_SECONDS = 1


def _seconds(conn: Connection, col):
    if conn.dialect.name == "sqlite":
        return (func.julianday(col) - 2440587.5) * 86400.0
    return extract("epoch", col)


def success_gaps(conn: Connection, service: Mapping[str, Any], since: datetime, until: datetime) -> list[windows.Gap]:
    """The gaps between the successes from ``since`` to ``until`` in which the service
    may have been late or overdue, and the one before the first success from ``since``
    (the caller picks ``since`` a full window plus grace before the first window it judges)."""
    h = heartbeat_events.c
    threshold = service["threshold"]
    interval = service["alert_interval"] * 60
    order = h.time  # the index's order: no sort (successes at the same instant make no gap)
    kind = h.time.type
    good = (
        select(
            h.time.label("at"),
            func.lag(h.time, threshold - 1, type_=kind).over(order_by=order).label("base")
            if threshold > 1 else h.time.label("base"),
            func.lag(h.time, 1, type_=kind).over(order_by=order).label("prev"),
            func.lead(h.time, 1, type_=kind).over(order_by=order).label("next"),
        )
        .where(h.service_id == service["service_id"], h.status.in_(sorted(GOOD_STATUSES)),
               h.time >= since, h.time < until)
        .subquery()
    )
    rows = conn.execute(
        select(good.c.at, good.c.base, good.c.prev, good.c.next)
        .where(or_(good.c.prev.is_(None), good.c.base.is_(None), good.c.next.is_(None),
                   _seconds(conn, good.c.next) - _seconds(conn, good.c.base) > interval - _SLACK_SECONDS))
        .order_by(good.c.at)
    ).all()
    # Fewer than `threshold` successes since `since`: the deadline counts from registration,
    # or from before `since`, which for the windows judged is the same (overdue from the first).
    anchor = max(since, service["date_added"])
    gaps = [windows.Gap(anchor, anchor, rows[0].at if rows else None)]
    gaps += [windows.Gap(r.at, r.base if r.base is not None else anchor, r.next) for r in rows]
    return gaps


def down_changes(conn: Connection, service_id: int, since: datetime, until: datetime) -> list[windows.Span]:
    """The spans from ``since`` to ``until`` during which the newest heartbeat was DOWN."""
    h = heartbeat_events.c
    before = conn.execute(
        select(h.status).where(h.service_id == service_id, h.time < since)
        .order_by(h.time.desc(), h.heartbeat_id.desc()).limit(1)
    ).scalar()
    is_down = case((h.status == Status.DOWN.value, 1), else_=0)
    marked = (
        select(h.time.label("at"), is_down.label("d"),
               func.lag(is_down).over(order_by=(h.time, h.heartbeat_id)).label("pd"))
        .where(h.service_id == service_id, h.time >= since, h.time < until)
        .subquery()
    )
    changes = conn.execute(
        select(marked.c.at, marked.c.d).where(or_(marked.c.pd.is_(None), marked.c.d != marked.c.pd))
        .order_by(marked.c.at)
    ).all()
    return windows.down_spans(before == Status.DOWN.value, [(at, bool(d)) for at, d in changes], since)


def first_listed(conn: Connection, service: Mapping[str, Any], now: datetime, retention_days: int) -> datetime:
    """The earliest window start that can be judged: not before registration, nor while
    the service was on a cron schedule (up to its newest stored slot), and with the
    heartbeats of a full window plus grace before it still kept by retention."""
    width = service["alert_interval"] * 60
    lookback = timedelta(seconds=width + service["grace_period_seconds"])
    earliest = max(service["date_added"], now - timedelta(days=retention_days) + lookback)
    last_cron_slot = conn.execute(
        select(func.max(service_slots.c.slot_at)).where(service_slots.c.service_id == service["service_id"])
    ).scalar()
    if last_cron_slot is not None:
        earliest = max(earliest, last_cron_slot)
    return windows.align_up(earliest, width)


def interval_windows(
    conn: Connection, service: Mapping[str, Any], start: datetime, end: datetime, *, now: datetime,
    retention_days: int, limit: int | None = None,
) -> list[windows.Window]:
    """The ended windows of an interval service starting in [start, end), oldest first;
    those one of Medic's own recorded outages overlapped are ``unknown`` (core/gaps.py)."""
    width = service["alert_interval"] * 60
    if start >= now or end <= start:
        return []  # no window that starts then has ended
    first = windows.align_up(max(start, first_listed(conn, service, now, retention_days)), width)
    # Windows that have ended by now, and start before `end` (counted, not added: `end` may be year 9999).
    ended = int((now - first).total_seconds() // width)
    before_end = -int(-(end - first).total_seconds() // width)
    count = min(ended, before_end)
    if limit is not None:
        count = min(count, limit)
    if count <= 0:
        return []
    until = first + timedelta(seconds=count * width)
    since = first - timedelta(seconds=width + service["grace_period_seconds"])
    late, missed = windows.overdue_spans(
        success_gaps(conn, service, since, until), width, service["grace_period_seconds"])
    down = down_changes(conn, service["service_id"], first, until)
    outages = [(gap.start, gap.end) for gap in outage_gaps.ended_since(conn, first) if gap.start < until]
    return windows.judge(first, count, width, missed=missed, down=down, late=late, outages=outages)


def on_time_ratios(conn: Connection, service: Mapping[str, Any], now: datetime, retention_days: int) -> dict[str, float | None]:
    """on_time_ratio_7d and _30d of an interval service: the share of its ended windows
    of that period that were on time (None without windows)."""
    longest = max(RATIO_DAYS)
    judged = interval_windows(conn, service, now - timedelta(days=longest), now, now=now, retention_days=retention_days)
    # Windows in a maintenance window are left out, as cron slots are (docs/maintenance.md).
    held = maintenance.windows_since(conn, judged[0].start) if judged else []
    judged = [w for w in judged if window_over(held, service["service_id"], service["team"], service.get("labels"),
                                               w.start, w.end) is None]
    return {
        f"on_time_ratio_{days}d": windows.on_time_ratio(
            w.outcome for w in judged if w.start >= now - timedelta(days=days))
        for days in RATIO_DAYS
    }
