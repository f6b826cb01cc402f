"""Maintenance windows end to end: API -> database -> worker -> stand-in providers, on
the injected clock (which starts on Monday 2026-01-05 12:00 UTC)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from medic.store import transitions

UTC = timezone.utc


def pd_actions(pagerduty) -> list[str]:
    return [r.json["event_action"] for r in pagerduty.requests]


def open_window(api, expect: int = 201, **body) -> dict:
    response = api.post("/v2/maintenance", json={"reason": "db upgrade", **body})
    assert response.status_code == expect, response.text
    return response.json()["results"]


def test_no_trigger_inside_a_one_off_window_and_a_page_at_its_end_if_still_down(medic, api, worker, clock, pagerduty):
    medic.register("db-hb", alert_interval=1)
    medic.beat("db-hb")
    window = open_window(api, services=["db-hb"], end="2026-01-05T13:00:00Z")
    assert window["active"] and window["active_until"] == "2026-01-05T13:00:00Z" and window["services"] == ["db-hb"]
    for _ in range(59):
        clock.advance(minutes=1)
        worker.run_once()
    assert pagerduty.requests == [] and medic.service("db-hb")["down"] == 0
    clock.set(datetime(2026, 1, 5, 13, 0, tzinfo=UTC))
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger"]
    [alert] = medic.alerts(active="true")
    assert alert["open_reason"] == "missed_heartbeats"
    clock.advance(minutes=5)
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger"]  # one page, not one per cycle


def test_a_service_that_recovers_inside_the_window_never_pages(medic, api, worker, clock, pagerduty):
    medic.register("db-hb", alert_interval=1)
    open_window(api, services=["db-hb"], end="2026-01-05T12:30:00Z")
    clock.advance(minutes=10)
    worker.run_once()  # silent since registration: held
    clock.advance(minutes=10)
    medic.beat("db-hb")
    worker.run_once()
    clock.set(datetime(2026, 1, 5, 12, 30, 30, tzinfo=UTC))
    medic.beat("db-hb")
    worker.run_once()
    clock.advance(seconds=30)
    worker.run_once()
    assert pagerduty.requests == [] and medic.alerts() == []


def test_an_alert_open_before_the_window_stays_open_and_still_resolves(medic, api, worker, clock, pagerduty):
    medic.register("db-hb", alert_interval=1)
    clock.advance(minutes=2)
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger"]
    open_window(api, services=["db-hb"], end="2026-01-05T14:00:00Z")
    clock.advance(minutes=10)
    worker.run_once()
    assert medic.alerts(active="true") != []  # still open inside the window
    medic.beat("db-hb")
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger", "resolve"]
    assert medic.alerts()[0]["close_reason"] == "recovered"


@pytest.mark.parametrize("scope", [
    {"services": ["db-hb"]},
    {"team": "db"},
    {"labels": {"env": "prod", "tier": "db"}},
])
def test_each_scope_kind_holds_only_the_services_it_names(medic, api, worker, clock, pagerduty, scope):
    medic.register("db-hb", team="db", labels={"env": "prod", "tier": "db"})
    medic.register("web-hb", team="web", labels={"env": "prod", "tier": "web"})
    open_window(api, **scope, end="2026-01-05T13:00:00Z")
    clock.advance(minutes=5)
    worker.run_once()
    [alert] = medic.alerts()
    assert alert["heartbeat_name"] == "web-hb" and pd_actions(pagerduty) == ["trigger"]


def test_a_recurring_window_in_a_zone_with_daylight_saving(medic, api, worker, clock, pagerduty):
    # Sundays 02:00-04:00 Europe/Berlin: in July (CEST, UTC+2) that is 00:00-02:00 UTC.
    clock.set(datetime(2026, 7, 4, 23, 58, tzinfo=UTC))
    medic.register("db-hb", alert_interval=1)
    medic.beat("db-hb")  # due at 23:59
    window = open_window(api, team="site-reliability", cron="0 2 * * 0", timezone="Europe/Berlin", duration_minutes=120)
    assert not window["active"] and window["next_start"] == "2026-07-05T00:00:00Z"
    clock.set(datetime(2026, 7, 4, 23, 59, 30, tzinfo=UTC))
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger"]  # before the window: pages as usual
    medic.beat("db-hb")
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger", "resolve"]
    clock.set(datetime(2026, 7, 5, 0, 30, tzinfo=UTC))  # 02:30 CEST: inside
    worker.run_once()
    assert api.get(f"/v2/maintenance/{window['id']}").json()["results"]["active_until"] == "2026-07-05T02:00:00Z"
    clock.set(datetime(2026, 7, 5, 1, 59, 59, tzinfo=UTC))
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger", "resolve"]
    clock.set(datetime(2026, 7, 5, 2, 0, tzinfo=UTC))  # 04:00 CEST: over, still down
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger", "resolve", "trigger"]


def test_a_held_service_is_not_read_again_until_the_window_ends(medic, api, worker, clock, engine):
    medic.register("db-hb", alert_interval=1)
    medic.register("web-hb", alert_interval=1)
    open_window(api, services=["db-hb"], end="2026-01-05T13:00:00Z")
    clock.advance(minutes=2)
    worker.run_once()
    with engine.connect() as conn:
        names = [c.heartbeat_name for c in transitions.candidates(conn, clock(), None)]
    assert names == []  # web-hb is down (no longer a candidate to open); db-hb is held
    clock.set(datetime(2026, 1, 5, 13, 0, tzinfo=UTC))
    with engine.connect() as conn:
        assert [c.heartbeat_name for c in transitions.candidates(conn, clock(), None)] == ["db-hb"]


def test_ending_a_window_early_pages_on_the_next_cycle(medic, api, worker, clock, pagerduty):
    medic.register("db-hb", alert_interval=1)
    window = open_window(api, team="site-reliability", end="2026-01-05T18:00:00Z")
    clock.advance(minutes=5)
    worker.run_once()
    assert pagerduty.requests == []
    ended = api.delete(f"/v2/maintenance/{window['id']}")
    assert ended.status_code == 200 and ended.json()["results"]["ended_at"] == "2026-01-05T12:05:00Z"
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger"]


def test_narrowing_a_window_releases_the_services_it_no_longer_covers(medic, api, worker, clock, pagerduty):
    medic.register("db-hb", alert_interval=1)
    medic.register("web-hb", alert_interval=1)
    window = open_window(api, services=["db-hb", "web-hb"], end="2026-01-05T18:00:00Z")
    clock.advance(minutes=5)
    worker.run_once()
    response = api.patch(f"/v2/maintenance/{window['id']}", json={"services": ["db-hb"]})
    assert response.status_code == 200, response.text
    worker.run_once()
    assert [a["heartbeat_name"] for a in medic.alerts()] == ["web-hb"]


def test_slots_in_a_window_are_recorded_with_it(medic, api, worker, clock):
    medic.register("nightly", schedule={"kind": "cron", "cron": "30 12 * * *"})
    window = open_window(api, services=["nightly"], end="2026-01-05T13:00:00Z")
    clock.set(datetime(2026, 1, 6, 12, 31, tzinfo=UTC))
    worker.run_once()  # the 5th's slot fell in the window, the 6th's did not
    slots = api.get("/v2/services/nightly/slots").json()["results"]
    assert [(s["slot_at"], s["outcome"], s["maintenance_id"]) for s in slots] == [
        ("2026-01-05T12:30:00Z", "missed", window["id"]),
        ("2026-01-06T12:30:00Z", "missed", None),
    ]
    assert medic.service("nightly")["on_time_ratio_7d"] == 0.0  # only the slot outside the window counts


def test_moving_a_service_out_of_the_team_in_maintenance_releases_it(medic, api, worker, clock, pagerduty):
    medic.register("db-hb", alert_interval=1, team="db")
    open_window(api, team="db", end="2026-01-05T18:00:00Z")
    clock.advance(minutes=5)
    worker.run_once()
    assert pagerduty.requests == []
    medic.update("db-hb", team="platform")
    worker.run_once()
    assert pd_actions(pagerduty) == ["trigger"]


def test_cleanup_deletes_windows_over_for_longer_than_retention(medic, api, clock, engine, settings):
    from medic.worker.cleanup import run_cleanup

    medic.register("db-hb", alert_interval=1)
    one_off = open_window(api, services=["db-hb"], end="2026-01-05T13:00:00Z")
    ended = open_window(api, team="db", cron="0 2 * * 0", duration_minutes=60)
    recurring = open_window(api, team="db", cron="0 3 * * 0", duration_minutes=60)
    assert api.delete(f"/v2/maintenance/{ended['id']}").status_code == 200
    clock.advance(days=settings.heartbeat_retention_days, minutes=59)
    assert run_cleanup(engine, settings, clock=clock)["maintenance_windows"] == 1  # ended at 12:00
    clock.advance(minutes=2)
    assert run_cleanup(engine, settings, clock=clock)["maintenance_windows"] == 1  # over at 13:00
    assert api.get(f"/v2/maintenance/{one_off['id']}").status_code == 404
    assert api.get(f"/v2/maintenance/{recurring['id']}").status_code == 200  # never over


def test_two_workers_page_once_when_a_window_ends(medic, api, make_worker, clock, pagerduty):
    first, second = make_worker(), make_worker()
    medic.register("db-hb", alert_interval=1)
    open_window(api, services=["db-hb"], end="2026-01-05T13:00:00Z")
    clock.advance(minutes=5)
    first.run_once()
    second.run_once()
    clock.set(datetime(2026, 1, 5, 13, 0, tzinfo=UTC))
    first.run_once()
    second.run_once()
    first.run_once()
    assert pd_actions(pagerduty) == ["trigger"]


def test_flapping_that_ends_inside_a_window_sends_nothing_until_the_window_ends(
        medic, api, worker, clock, pagerduty, slack, webhook):
    from tests.worker.test_flapping import start_flapping

    start_flapping(medic, clock, [worker], pagerduty, slack, webhook)
    open_window(api, services=["svc-hb"], end="2026-01-06T12:00:00Z")
    sent = len(pagerduty.requests), len(webhook.requests), len(slack.requests)
    clock.advance(minutes=61)  # stable (down) for the flap period, inside the window
    medic.beat(status="DOWN")
    worker.run_once()
    assert (len(pagerduty.requests), len(webhook.requests), len(slack.requests)) == sent
    clock.set(datetime(2026, 1, 6, 12, 0, tzinfo=UTC))  # the window ends; still down
    medic.beat(status="DOWN")
    worker.run_once()
    assert pd_actions(pagerduty)[sent[0]:] == ["trigger"]
    assert len(webhook.requests) == sent[1] + 1
    worker.run_once()
    assert len(pagerduty.requests) == sent[0] + 1  # once
