"""The fresh windows that store/gaps.py gives in SQL equal core/deadline.py's
``after_gap``, case by case, on both databases; and a gap is applied once."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from medic.core.deadline import after_gap
from medic.core.gaps import Gap, GapCause
from medic.core.model import JOB_RUNNING
from medic.store import gaps
from medic.store import services as svc
from medic.store.tables import services

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
GAP = Gap(T0 + timedelta(minutes=1), T0 + timedelta(minutes=11), GapCause.DATABASE)
SCHEDULES = [
    {"alert_interval": 1, "grace_period_seconds": 0},
    {"alert_interval": 5, "grace_period_seconds": 45},
    {"alert_interval": 1, "grace_period_seconds": 30, "cron": "*/7 * * * *", "timezone": "Europe/Berlin"},
    {"alert_interval": 1, "grace_period_seconds": 90, "cron": "0 * * * *", "start_margin_seconds": 30},
    {"alert_interval": 1, "grace_period_seconds": 20, "cron": "0 * * * *", "start_margin_seconds": 30},
]
DEADLINES = [GAP.start - timedelta(seconds=1), GAP.start, GAP.start + timedelta(seconds=1), T0 + timedelta(minutes=6),
             GAP.end, GAP.end + timedelta(seconds=1)]


def test_the_sql_gives_what_the_rule_says(engine):
    cases = []
    with engine.begin() as conn:
        for n, (schedule, due, running, down) in enumerate(
            itertools.product(SCHEDULES, DEADLINES, (False, True), (False, True))
        ):
            row, _ = svc.create(conn, {"heartbeat_name": f"s{n}", "service_name": "s", "threshold": 1, **schedule}, T0)
            conn.execute(update(services).where(services.c.service_id == row.service_id).values(
                deadline=due.timestamp(), down=down, last_status=JOB_RUNNING if running else "UP"))
            cases.append((row.service_id, svc.settings_of(svc.get_by_id(conn, row.service_id)._mapping),
                          due.timestamp(), running, down))
        assert gaps.record(conn, GAP, GAP.end)
        assert not gaps.record(conn, Gap(GAP.start, GAP.end + timedelta(seconds=5), GapCause.WORKER), GAP.end)
        [row] = gaps.unapplied(conn)
        moved = gaps.apply(conn, row, GAP.end)
        assert gaps.apply(conn, row, GAP.end) is None  # once
        found = dict(conn.execute(select(services.c.service_id, services.c.deadline)).all())
    expected = {sid: due if down else after_gap(settings, due, GAP, started=running)
                for sid, settings, due, running, down in cases}
    assert found == expected
    assert moved == sum(found[sid] != due for sid, _, due, _, _ in cases)
    assert moved > 0
