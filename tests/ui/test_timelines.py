"""Heartbeats counted per bucket in SQL, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from medic.store import dashboard as q


def test_buckets_are_aligned_and_count_good_and_bad(fleet, clock, engine):
    clock.set(datetime(2026, 1, 5, 12, 10, tzinfo=timezone.utc))
    fleet.register("alpha-hb")
    fleet.register("bravo-hb")
    fleet.beat("alpha-hb")  # 12:10, UP
    clock.advance(minutes=25)
    fleet.beat("alpha-hb", "DOWN")  # 12:35
    clock.advance(hours=1)
    fleet.beat("alpha-hb")  # 13:35
    fleet.beat("alpha-hb", "DEGRADED")  # 13:35, good
    now = clock.advance(minutes=5)  # 13:40
    with engine.connect() as conn:
        ids = {r.heartbeat_name: r.service_id for r in q.services_by_names(conn, ["alpha-hb", "bravo-hb"])}
        half_hours = q.timelines(conn, list(ids.values()), q.window_start(now, 1800, 4), 1800, 4)
        hours = q.timelines(conn, [ids["alpha-hb"]], q.window_start(now, 3600, 3), 3600, 3)
    alpha = half_hours[ids["alpha-hb"]]
    assert [b.start.strftime("%H:%M") for b in alpha] == ["12:00", "12:30", "13:00", "13:30"]
    assert [(b.good, b.bad) for b in alpha] == [(1, 0), (0, 1), (0, 0), (2, 0)]
    assert [b.outcome for b in alpha] == ["up", "down", "none", "up"]
    assert [(b.good, b.bad) for b in half_hours[ids["bravo-hb"]]] == [(0, 0)] * 4
    assert [(b.start.hour, b.good, b.bad, b.outcome) for b in hours[ids["alpha-hb"]]] == [
        (11, 0, 0, "none"), (12, 1, 1, "mixed"), (13, 2, 0, "up")]


def test_bucket_widths_are_whole_ten_minutes(engine):
    with engine.connect() as conn, pytest.raises(ValueError):
        q.timelines(conn, [1], datetime(2026, 1, 1, tzinfo=timezone.utc), 90, 3)
    assert q.window_start(datetime(2026, 1, 1, 0, 59, tzinfo=timezone.utc), 600, 1) == datetime(2026, 1, 1, 0, 50, tzinfo=timezone.utc)
    assert q.window_start(datetime(2026, 1, 1, 0, 59, tzinfo=timezone.utc), 3600, 2) == datetime(2025, 12, 31, 23, 0, tzinfo=timezone.utc) + timedelta(0)
