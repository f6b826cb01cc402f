"""Cron services end to end: register -> a slot passes unmet -> page -> success -> resolve,
with the injected clock, on SQLite and PostgreSQL (docs/schedules.md)."""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc
NIGHTLY = {"cron": "0 3 * * *", "timezone": "Europe/Berlin", "grace": 600}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def pages(pagerduty) -> list[str]:
    return [request.json["event_action"] for request in pagerduty.requests]


def test_register_shows_the_schedule_in_words_and_its_next_slots(svc):
    service = svc.register(schedule=NIGHTLY)["results"]
    assert service["schedule"]["kind"] == "cron"
    assert service["schedule"]["description"] == "at 03:00 every day, Europe/Berlin"
    assert service["schedule"]["next_slots"][0] == {"utc": "2026-01-06T02:00:00Z",
                                                    "local": "2026-01-06T03:00:00+01:00"}
    assert service["grace_period_seconds"] == 600 and service["alert_interval"] == 1440
    shown = svc.service()
    assert shown["schedule"]["cron"] == "0 3 * * *" and shown["schedule"]["timezone"] == "Europe/Berlin"
    assert shown["on_time_ratio_7d"] is None and shown["on_time_ratio_30d"] is None


def test_interval_services_reply_as_before_with_their_schedule(svc):
    service = svc.register(name="plain", alert_interval=5)["results"]
    assert service["schedule"] == {"kind": "interval", "alert_interval": 5, "threshold": 1, "grace_period_seconds": 0}
    assert svc.register(name="nothing", expect=400)["message"].startswith("invalid body: alert_interval")


def test_missed_slot_pages_and_the_next_success_resolves(svc, worker, clock, pagerduty):
    svc.register(schedule=NIGHTLY)
    clock.set(at(2026, 1, 6, 2, 9, 59))  # 03:09:59 Berlin: within grace
    worker.run_once()
    assert pagerduty.requests == []
    clock.set(at(2026, 1, 6, 2, 10))
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    [alert] = svc.alerts(active="true")
    assert alert["open_reason"] == "missed_slot"
    assert "missed its scheduled run" in pagerduty.requests[0].json["payload"]["summary"]
    assert svc.slots(**{"from": "2026-01-05T00:00:00Z", "to": "2026-01-07T00:00:00Z"}) == [
        ("2026-01-06T02:00:00Z", "missed")]
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]  # once per incident

    clock.set(at(2026, 1, 7, 1, 58))  # the next night's run, two minutes early
    svc.beat()
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]
    assert svc.slots(**{"from": "2026-01-05T00:00:00Z"}) == [
        ("2026-01-06T02:00:00Z", "missed"), ("2026-01-07T02:00:00Z", "on_time")]
    assert svc.service()["on_time_ratio_7d"] == 0.5


def test_late_within_grace_is_met_late_and_pages_nobody(svc, worker, clock, pagerduty):
    svc.register(schedule=NIGHTLY)
    clock.set(at(2026, 1, 6, 2, 5))
    svc.signal("complete")
    clock.set(at(2026, 1, 6, 2, 11))
    worker.run_once()
    assert pagerduty.requests == []
    assert svc.slots() == [("2026-01-06T02:00:00Z", "late")]


def test_spring_forward_night_is_expected_one_hour_earlier_in_utc(svc, worker, clock, pagerduty):
    clock.set(at(2026, 3, 27, 12))
    svc.register(schedule={"cron": "30 2 * * *", "timezone": "Europe/Berlin", "grace": 300})
    clock.set(at(2026, 3, 28, 1, 30))  # 02:30 CET
    svc.beat()
    clock.set(at(2026, 3, 29, 1, 4, 59))  # 02:30 does not exist on the 29th: 03:00 CEST = 01:00 UTC
    worker.run_once()
    assert pagerduty.requests == []
    clock.set(at(2026, 3, 29, 1, 5))
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]


def test_start_margin_max_runtime_each_their_own_reason(svc, worker, clock, pagerduty):
    svc.register(name="hourly", schedule={"cron": "0 * * * *", "grace": 1800, "start_margin": 300,
                                          "max_runtime": 600})
    clock.set(at(2026, 1, 5, 13, 5))
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert svc.alerts(active="true")[0]["open_reason"] == "late_to_start"
    assert "late to start" in pagerduty.requests[0].json["payload"]["summary"]

    clock.set(at(2026, 1, 5, 13, 6))
    svc.signal("start", "hourly")
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]
    clock.set(at(2026, 1, 5, 13, 16))
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve", "trigger"]
    assert svc.alerts(active="true")[0]["open_reason"] == "running_too_long"
    assert "running too long" in pagerduty.requests[2].json["payload"]["summary"]

    clock.set(at(2026, 1, 5, 13, 20))
    svc.signal("complete", "hourly")
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve", "trigger", "resolve"]
    # Finished, late and after 14 minutes of a 10-minute max_runtime.
    assert svc.slots("hourly") == [("2026-01-05T13:00:00Z", "too_long")]
    clock.set(at(2026, 1, 5, 14, 4, 59))
    worker.run_once()
    assert len(pagerduty.requests) == 4  # the 14:00 slot still has its start margin


def test_run_finished_too_fast_pages_until_a_proper_run(svc, worker, clock, pagerduty):
    svc.register(name="backup", schedule={"cron": "0 * * * *", "grace": 1800, "min_runtime": 60})
    clock.set(at(2026, 1, 5, 13, 0))
    svc.signal("start", "backup")
    clock.set(at(2026, 1, 5, 13, 0, 2))
    svc.signal("complete", "backup")
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert svc.alerts(active="true")[0]["open_reason"] == "finished_too_fast"
    assert svc.slots("backup") == [("2026-01-05T13:00:00Z", "too_fast")]
    clock.set(at(2026, 1, 5, 13, 10))
    svc.signal("start", "backup")
    clock.set(at(2026, 1, 5, 13, 12))
    svc.signal("complete", "backup")
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]
    assert svc.slots("backup") == [("2026-01-05T13:00:00Z", "late")]


def test_failed_run_records_failed(svc, worker, clock, pagerduty):
    svc.register(schedule=NIGHTLY)
    clock.set(at(2026, 1, 6, 2, 1))
    svc.signal("fail")
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    assert svc.alerts(active="true")[0]["open_reason"] == "job_failed"
    clock.set(at(2026, 1, 6, 2, 11))
    worker.run_once()
    assert svc.slots() == [("2026-01-06T02:00:00Z", "failed")]


def test_muted_and_deactivated_services_slots_are_recorded_without_a_page(svc, worker, clock, pagerduty):
    svc.register(name="muted", schedule=NIGHTLY)
    svc.register(name="off", schedule=NIGHTLY)
    svc.update("muted", muted=True)
    svc.update("off", active=False)
    clock.set(at(2026, 1, 6, 2, 10))
    worker.run_once()
    assert pagerduty.requests == []
    assert svc.slots("muted") == svc.slots("off") == [("2026-01-06T02:00:00Z", "missed")]


def test_switch_from_interval_to_cron_and_back(svc, worker, clock, pagerduty):
    svc.register(name="switch", alert_interval=5)
    svc.beat("switch")
    clock.advance(minutes=1)
    shown = svc.update("switch", schedule={"cron": "*/30 * * * *"})["results"]["schedule"]
    assert shown["kind"] == "cron" and shown["timezone"] == "UTC"
    clock.set(at(2026, 1, 5, 12, 29, 59))  # no heartbeat for 28 minutes: the interval would have paged
    worker.run_once()
    assert pagerduty.requests == []
    clock.set(at(2026, 1, 5, 12, 30))
    worker.run_once()
    assert pages(pagerduty) == ["trigger"]
    svc.beat("switch")
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve"]

    shown = svc.update("switch", schedule={"kind": "interval"})["results"]["schedule"]
    assert shown == {"kind": "interval", "alert_interval": 5, "threshold": 1, "grace_period_seconds": 0}
    clock.advance(minutes=4, seconds=59)
    worker.run_once()
    assert len(pagerduty.requests) == 2
    clock.advance(seconds=1)
    worker.run_once()
    assert pages(pagerduty) == ["trigger", "resolve", "trigger"]
    assert svc.alerts(active="true")[0]["open_reason"] == "missed_heartbeats"


def test_zone_change_keeps_the_expression(svc):
    svc.register(schedule=NIGHTLY)
    shown = svc.update(schedule={"timezone": "America/New_York"})["results"]["schedule"]
    assert shown["cron"] == "0 3 * * *" and shown["timezone"] == "America/New_York"
    assert shown["next_slots"][0]["utc"] == "2026-01-06T08:00:00Z"
    assert shown["description"] == "at 03:00 every day, America/New_York"


def test_invalid_schedules_are_400s_naming_the_field(svc):
    reply = svc.register(schedule={"cron": "0 25 * * *"}, expect=400)
    assert reply["success"] is False and reply["message"].startswith("invalid body: schedule.cron:")
    reply = svc.register(schedule={"cron": "0 3 * * *", "timezone": "Europe/Atlantis"}, expect=400)
    assert reply["message"].startswith("invalid body: schedule.timezone:") and "Europe/Atlantis" in reply["message"]
    reply = svc.register(schedule={"timezone": "UTC", "kind": "cron"}, expect=400)
    assert "schedule.cron" in reply["message"]
    svc.register(name="ok", schedule=NIGHTLY)
    assert "schedule.cron" in svc.update("ok", schedule={"cron": "nope"}, expect=400)["message"]


def test_preview_answers_slots_in_utc_and_local_time(api):
    response = api.post("/v2/schedules/preview", json={"cron": "30 2 * * *", "timezone": "Europe/Berlin",
                                                        "from": "2026-03-28T12:00:00Z", "count": 3})
    assert response.status_code == 200, response.text
    assert response.json()["results"]["slots"] == [
        {"utc": "2026-03-29T01:00:00Z", "local": "2026-03-29T03:00:00+02:00"},
        {"utc": "2026-03-30T00:30:00Z", "local": "2026-03-30T02:30:00+02:00"},
        {"utc": "2026-03-31T00:30:00Z", "local": "2026-03-31T02:30:00+02:00"},
    ]
    response = api.post("/v2/schedules/preview", json={"cron": "@hourly"})
    assert len(response.json()["results"]["slots"]) == 5  # default count, from now, UTC
    assert response.json()["results"]["slots"][0]["utc"] == "2026-01-05T13:00:00Z"
    response = api.post("/v2/schedules/preview", json={"cron": "0 3 * * *", "timezone": "Nowhere/City"})
    assert response.status_code == 400 and response.json()["message"].startswith("invalid body: timezone:")


def test_slots_of_an_unknown_service_is_a_404(api):
    response = api.get("/v2/services/nobody/slots")
    assert response.status_code == 404 and response.json()["success"] is False


def counted(worker, outcome: str, team: str = "data") -> float:
    value = worker.metrics.registry.get_sample_value("medic_slot_outcomes_total", {"team": team, "outcome": outcome})
    return value or 0.0


def test_slot_outcomes_are_counted_by_team_and_pruned_by_retention(svc, worker, clock, engine, settings):
    from medic.worker.cleanup import run_cleanup

    before = {outcome: counted(worker, outcome) for outcome in ("missed", "on_time")}
    svc.register(name="a", schedule=NIGHTLY, team="data")
    svc.register(name="b", schedule=NIGHTLY, team="data")
    clock.set(at(2026, 1, 6, 1, 59))
    svc.beat("a")
    clock.set(at(2026, 1, 6, 2, 10))
    worker.run_once()
    # One series per team and outcome, none per service; each slot counted once.
    assert counted(worker, "missed") == before["missed"] + 1
    assert counted(worker, "on_time") == before["on_time"] + 1
    worker.run_once()
    assert counted(worker, "missed") == before["missed"] + 1
    labels = {tuple(sorted(sample.labels)) for family in worker.metrics.registry.collect()
              if family.name == "medic_slot_outcomes" for sample in family.samples}
    assert labels == {("outcome", "team")}

    clock.set(at(2026, 2, 5, 2, 30))  # 30 days on: the first night is past retention
    deleted = run_cleanup(engine, settings, clock=clock)
    assert deleted["service_slots"] == 2
    assert svc.slots("a", **{"from": "2026-01-01T00:00:00Z", "to": "2026-01-07T00:00:00Z"}) == []
