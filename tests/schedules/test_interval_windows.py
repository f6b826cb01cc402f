"""Interval services' windows end to end: heartbeats over HTTP with the injected clock,
then GET /v2/services/<name>/slots and the ratios of GET /service/<name>, on SQLite and
PostgreSQL (docs/schedules.md, "Slot history")."""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc
DAY = {"from": "2026-01-05T00:00:00Z"}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def beat_every_minute(svc, clock, name: str, minutes: int, status: str = "UP") -> None:
    """A heartbeat now and each minute after, ``minutes`` in all; the clock ends a minute on."""
    for _ in range(minutes):
        svc.beat(name, status)
        clock.advance(minutes=1)


def windows(svc, name: str, **params) -> list[tuple[str, str]]:
    return [(slot_at[11:16], outcome) for slot_at, outcome in svc.slots(name, **{**DAY, **params})]


def test_beating_on_time_gives_on_time_windows_and_open_ones_are_not_listed(svc, clock):
    svc.register("steady", alert_interval=5)
    beat_every_minute(svc, clock, "steady", 22)  # 12:00 .. 12:21, now 12:22
    assert windows(svc, "steady") == [("12:00", "on_time"), ("12:05", "on_time"), ("12:10", "on_time"),
                                      ("12:15", "on_time")]  # 12:20 has not ended
    rows = svc.api.get("/v2/services/steady/slots", params=DAY).json()["results"]
    assert rows[0] == {"slot_at": "2026-01-05T12:00:00Z", "local": None, "outcome": "on_time", "signal_at": None,
                       "maintenance_id": None}
    shown = svc.service("steady")
    assert shown["on_time_ratio_7d"] == shown["on_time_ratio_30d"] == 1.0
    listed = svc.api.get("/service", params={"service_name": "batch"}).json()["results"]
    assert listed[0]["on_time_ratio_7d"] is None  # only the single-service GET counts them
    assert windows(svc, "steady", **{"from": "2026-01-05T12:05:00Z", "to": "2026-01-05T12:15:00Z"}) == [
        ("12:05", "on_time"), ("12:10", "on_time")]
    assert windows(svc, "steady", limit=1) == [("12:00", "on_time")]


def test_a_silence_is_missed_then_on_time_once_it_resumes(svc, clock):
    svc.register("quiet", alert_interval=5)
    beat_every_minute(svc, clock, "quiet", 11)  # 12:00 .. 12:10: due at 12:15
    clock.set(at(2026, 1, 5, 12, 27))
    beat_every_minute(svc, clock, "quiet", 13)  # 12:27 .. 12:39, now 12:40
    assert windows(svc, "quiet") == [
        ("12:00", "on_time"), ("12:05", "on_time"), ("12:10", "on_time"),
        ("12:15", "missed"), ("12:20", "missed"), ("12:25", "missed"),  # overdue until 12:27
        ("12:30", "on_time"), ("12:35", "on_time")]
    shown = svc.service("quiet")
    assert shown["on_time_ratio_7d"] == shown["on_time_ratio_30d"] == 0.625


def test_a_heartbeat_late_within_the_grace_is_late(svc, clock):
    svc.register("slow", alert_interval=5, grace_period_seconds=120)
    for minute in (0, 5, 11, 15, 20):  # 6 minutes between 12:05 and 12:11
        clock.set(at(2026, 1, 5, 12, minute))
        svc.beat("slow")
    clock.set(at(2026, 1, 5, 12, 21))
    assert windows(svc, "slow") == [("12:00", "on_time"), ("12:05", "on_time"), ("12:10", "late"),
                                    ("12:15", "on_time")]


def test_down_fails_the_window_it_left_the_service_down_in(svc, clock):
    svc.register("flaky", alert_interval=5)
    beat_every_minute(svc, clock, "flaky", 6)  # 12:00 .. 12:05
    svc.beat("flaky", "DOWN")  # 12:06, up again at 12:07
    clock.advance(minutes=1)
    beat_every_minute(svc, clock, "flaky", 9)  # 12:07 .. 12:15, now 12:16
    assert windows(svc, "flaky") == [("12:00", "on_time"), ("12:05", "failed"), ("12:10", "on_time")]


def test_windows_do_not_start_before_registration(svc, clock):
    clock.set(at(2026, 1, 5, 12, 2))
    svc.register("late-comer", alert_interval=5)
    beat_every_minute(svc, clock, "late-comer", 14)  # 12:02 .. 12:15, now 12:16
    assert windows(svc, "late-comer") == [("12:05", "on_time"), ("12:10", "on_time")]


def test_a_daily_service_has_utc_days(svc, clock):
    clock.set(at(2026, 1, 4, 23, 0))
    svc.register("nightly-report", alert_interval=1440)
    clock.set(at(2026, 1, 5, 6))
    svc.beat("nightly-report")
    clock.set(at(2026, 1, 7, 7))  # 2026-01-06 06:00 due at 2026-01-06 06:00, none came
    assert svc.slots("nightly-report", **{"from": "2026-01-01T00:00:00Z"}) == [
        ("2026-01-05T00:00:00Z", "on_time"), ("2026-01-06T00:00:00Z", "missed")]


def test_threshold_counts_from_the_threshold_th_newest_heartbeat(svc, clock):
    svc.register("pair", alert_interval=5, threshold=2)
    for minute in (0, 2, 4, 6, 10, 12, 14, 16, 18, 20):  # 12:08 left out
        clock.set(at(2026, 1, 5, 12, minute))
        svc.beat("pair")
    clock.set(at(2026, 1, 5, 12, 21))
    # From 12:06 the second newest is 12:04 (due 12:09); from 12:10 it is 12:06 (due 12:11).
    assert windows(svc, "pair") == [("12:00", "on_time"), ("12:05", "missed"), ("12:10", "missed"),
                                    ("12:15", "on_time")]


def test_switched_interval_to_cron_and_back_lists_the_right_kind(svc, clock, worker):
    svc.register("switch", alert_interval=5)
    beat_every_minute(svc, clock, "switch", 10)  # 12:00 .. 12:09, now 12:10
    assert windows(svc, "switch") == [("12:00", "on_time"), ("12:05", "on_time")]
    svc.update("switch", schedule={"cron": "*/30 * * * *"})
    clock.set(at(2026, 1, 5, 12, 29))
    svc.beat("switch")  # meets the 12:30 slot
    clock.set(at(2026, 1, 5, 12, 31))
    worker.run_once()
    cron_rows = svc.api.get("/v2/services/switch/slots", params=DAY).json()["results"]
    assert [(r["slot_at"], r["outcome"], r["local"]) for r in cron_rows] == [
        ("2026-01-05T12:30:00Z", "on_time", "2026-01-05T12:30:00Z")]
    assert svc.service("switch")["on_time_ratio_7d"] == 1.0

    svc.update("switch", schedule={"kind": "interval"})
    beat_every_minute(svc, clock, "switch", 14)  # 12:31 .. 12:44, now 12:45
    # Windows again, from the newest cron slot on: the cron time is not judged as windows.
    assert windows(svc, "switch") == [("12:30", "on_time"), ("12:35", "on_time"), ("12:40", "on_time")]
    assert svc.service("switch")["on_time_ratio_30d"] == 1.0


def test_windows_whose_heartbeats_retention_may_have_deleted_are_not_listed(svc, clock, settings):
    clock.set(at(2025, 11, 1))
    svc.register("old", alert_interval=60)
    clock.set(at(2026, 1, 5, 12))  # never beat: every window is missed, within retention only
    listed = svc.slots("old", **{"from": "2025-10-01T00:00:00Z"})
    assert listed[0][0] == "2025-12-06T13:00:00Z"  # 30 days back, plus one window of lookback
    assert {outcome for _, outcome in listed} == {"missed"}
    assert svc.service("old")["on_time_ratio_30d"] == 0.0


def test_odd_ranges_are_empty_or_a_clear_400(svc, clock):
    svc.register("ranges", alert_interval=40000)  # four weeks: within retention, and few windows
    clock.advance(days=1)
    assert svc.slots("ranges", **{"from": "9998-12-31T00:00:00Z"}) == []
    assert svc.slots("ranges", **{"from": "0001-01-01T00:00:00Z", "to": "9998-12-31T00:00:00Z"}) == []
    response = svc.api.get("/v2/services/ranges/slots", params={"from": "2026-01-05T12:00:00Z",
                                                                "to": "2026-01-05T11:00:00Z"})
    assert response.status_code == 400 and response.json()["message"] == "invalid query: from: must be before to"


def test_windows_medic_itself_could_not_receive_in_are_unknown(svc, clock, engine):
    # A silence that was Medic's own outage (docs/alerting.md, "When Medic itself was
    # down") is nobody's missed window.
    from medic.core.gaps import Gap, GapCause
    from medic.store import gaps

    svc.register("quiet", alert_interval=5)
    beat_every_minute(svc, clock, "quiet", 11)  # 12:00 .. 12:10: due at 12:15
    with engine.begin() as conn:
        gaps.record(conn, Gap(at(2026, 1, 5, 12, 14), at(2026, 1, 5, 12, 22), GapCause.WEB.value), clock())
    clock.set(at(2026, 1, 5, 12, 27))
    beat_every_minute(svc, clock, "quiet", 13)  # 12:27 .. 12:39, now 12:40
    assert windows(svc, "quiet") == [
        ("12:00", "on_time"), ("12:05", "on_time"), ("12:10", "unknown"),
        ("12:15", "unknown"), ("12:20", "unknown"), ("12:25", "missed"),
        ("12:30", "on_time"), ("12:35", "on_time")]


def test_windows_in_a_maintenance_window_are_noted_with_it(svc, clock):
    svc.register("nightly-db", alert_interval=5, team="db")
    beat_every_minute(svc, clock, "nightly-db", 11)  # 12:00 .. 12:10, now 12:11
    made = svc.api.post("/v2/maintenance", json={"team": "db", "start": "2026-01-05T12:14:00Z",
                                                 "end": "2026-01-05T12:26:00Z", "reason": "db upgrade"})
    assert made.status_code == 201, made.text
    clock.set(at(2026, 1, 5, 12, 27))
    beat_every_minute(svc, clock, "nightly-db", 8)  # 12:27 .. 12:34, now 12:35
    rows = svc.api.get("/v2/services/nightly-db/slots", params=DAY).json()["results"]
    noted = {row["slot_at"][11:16]: row["maintenance_id"] for row in rows}
    window = made.json()["results"]["id"]
    assert noted == {"12:00": None, "12:05": None, "12:10": window, "12:15": window, "12:20": window,
                     "12:25": window, "12:30": None}
    assert svc.service("nightly-db")["on_time_ratio_7d"] == 1.0  # the silence in the window is left out
