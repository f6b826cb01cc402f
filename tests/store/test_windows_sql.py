"""Interval windows found in SQL (store/windows.py) equal the alert rule itself: for
random heartbeat histories, each window's outcome is checked second by second against
core/deadline.py's ``next_due``, on both databases (docs/schedules.md, "Slot history")."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from medic.core import deadline
from medic.core.model import GOOD_STATUSES, Status
from medic.store import windows as window_store
from medic.store.services import get_by_id
from medic.store.tables import heartbeat_events, services

UTC = timezone.utc
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WIDTH = 60  # alert_interval 1 minute
COUNT = 12


def expected(beats: list[tuple[datetime, str]], registered: datetime, threshold: int, grace: int) -> list[str]:
    """Each window's outcome by the rule, sampled every second (every time here is whole seconds)."""
    settings = deadline.Settings(alert_interval=WIDTH // 60, grace_period_seconds=grace, threshold=threshold,
                                 max_duration_seconds=None, date_added=registered)
    first = T0 + timedelta(seconds=WIDTH)  # registration falls in the window before
    out = []
    for i in range(COUNT):
        missed = down = late = False
        for second in range(WIDTH):
            t = first + timedelta(seconds=i * WIDTH + second)
            seen = [(at, status) for at, status in beats if at <= t]
            good = [at for at, status in reversed(seen) if status in GOOD_STATUSES][:threshold]
            due = deadline.next_due(settings, deadline.Signals(good_times_newest_first=good))  # from successes
            missed |= t.timestamp() >= due
            late |= t.timestamp() >= due - grace
            down |= bool(seen) and seen[-1][1] == Status.DOWN
        out.append("missed" if missed else "failed" if down else "late" if late else "on_time")
    return out


def random_history(seed: int) -> tuple[int, int, list[tuple[datetime, str]]]:
    rng = random.Random(seed)
    threshold, grace = rng.choice([1, 1, 2, 3]), rng.choice([0, 20])
    beats, at = [], T0 + timedelta(seconds=17)
    while True:
        short = rng.random() < 0.85  # mostly in time for the threshold, now and then a long gap
        at += timedelta(seconds=rng.choice([1, 4, 8, 12, 18] if short else [30, 58, 65, 75, 140]))
        if at > T0 + timedelta(seconds=WIDTH * (COUNT + 2)):
            break
        beats.append((at, rng.choices([Status.UP, Status.DEGRADED, Status.DOWN], [75, 10, 15])[0].value))
    return threshold, grace, beats


def down_across_the_range_start() -> tuple[int, int, list[tuple[datetime, str]]]:
    """DOWN at 12:05:55, UP again at 12:06:10: the range from 12:06 starts down."""
    beats = [(T0 + timedelta(seconds=s), Status.UP.value) for s in range(20, 360, 15)]
    beats += [(T0 + timedelta(seconds=355), Status.DOWN.value)]
    beats += [(T0 + timedelta(seconds=s), Status.UP.value) for s in range(370, WIDTH * (COUNT + 2), 15)]
    return 1, 0, beats


@pytest.mark.parametrize("case", [*range(12), "down across the range start"])
def test_sql_windows_follow_the_alert_rule(engine, case):
    threshold, grace, beats = random_history(case) if isinstance(case, int) else down_across_the_range_start()
    registered = T0 + timedelta(seconds=17)
    seed = case if isinstance(case, int) else 99
    with engine.begin() as conn:
        service_id = conn.execute(insert(services).values(
            heartbeat_name=f"random-{seed}", service_name="random", alert_interval=WIDTH // 60, threshold=threshold,
            grace_period_seconds=grace, date_added=registered, date_modified=registered, deadline=0,
        ).returning(services.c.service_id)).scalar_one()
        conn.execute(insert(heartbeat_events), [{"service_id": service_id, "time": t, "status": s} for t, s in beats])
    now = T0 + timedelta(seconds=WIDTH * (COUNT + 1) + 30)  # the 13th window has not ended
    with engine.connect() as conn:
        service = get_by_id(conn, service_id)._mapping
        judged = window_store.interval_windows(conn, service, T0 - timedelta(days=1), now, now=now, retention_days=30)
        # A range that starts mid-history judges the same windows the same way (its lookback).
        later = window_store.interval_windows(conn, service, T0 + timedelta(seconds=WIDTH * 6), now, now=now,
                                              retention_days=30)
    assert [w.start for w in judged] == [T0 + timedelta(seconds=WIDTH * (i + 1)) for i in range(COUNT)]
    assert [w.outcome.value for w in judged] == expected(beats, registered, threshold, grace), (threshold, grace)
    assert [w.outcome for w in later] == [w.outcome for w in judged[5:]]
