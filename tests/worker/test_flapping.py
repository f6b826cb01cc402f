"""Flapping end to end (docs/alerting.md, "Flapping"): more than MEDIC_FLAP_CHANGES
(6) opens and closes in MEDIC_FLAP_MINUTES (60) send one flapping notice, pause the
pages, and once stable that long report the state once; injected clock, SQLite and
PostgreSQL, real worker, stand-in providers."""

from __future__ import annotations

from collections import Counter

from tests.worker.test_concurrency import run_together


def pd_events(pagerduty) -> list[tuple[str, str]]:
    return [(r.json["event_action"], r.json["dedup_key"]) for r in pagerduty.requests]


def events(webhook) -> list[str]:
    return [r.json["event"] for r in webhook.requests]


class Flipper:
    """A service alternating DOWN and UP, the workers running after each heartbeat."""

    def __init__(self, medic, clock, workers):
        self.medic, self.clock, self.workers = medic, clock, workers

    def run(self) -> None:
        if len(self.workers) == 1:
            self.workers[0].run_once()
        else:
            run_together(self.workers, "run_once", rounds=1)

    def flip(self, status: str) -> None:
        self.medic.beat(status=status)
        self.clock.advance(seconds=30)
        self.run()


def start_flapping(medic, clock, workers, pagerduty, slack, webhook) -> Flipper:
    medic.register(alert_interval=10)
    medic.beat()
    flipper = Flipper(medic, clock, workers)
    for _ in range(3):  # six changes: paged as usual
        flipper.flip("DOWN")
        flipper.flip("UP")
    assert [action for action, _ in pd_events(pagerduty)] == ["trigger", "resolve"] * 3
    assert events(webhook) == ["trigger", "resolve"] * 3 and len(slack.requests) == 6
    flipper.flip("DOWN")  # the seventh: flapping
    return flipper


def check_flapping_notice(medic, pagerduty, slack, webhook) -> str:
    """The one notice: chat channels say flapping, PagerDuty has one incident open."""
    assert events(webhook)[6:] == ["flapping"]
    notice = webhook.requests[-1].json["alert"]
    assert notice["flapping"] is True and notice["flap_changes"] == 7 and notice["flap_minutes"] == 60
    assert len(slack.requests) == 7 and "Flapping" in slack.requests[-1].data["text"]
    action, key = pd_events(pagerduty)[-1]
    assert action == "trigger" and len(pagerduty.requests) == 7
    assert "flapping" in pagerduty.requests[-1].json["payload"]["summary"]
    service = medic.service()
    assert service["flapping"] is True and service["flapping_since"] is not None
    return key


def test_flapping_pauses_pages_and_reports_recovery_once(medic, worker, clock, pagerduty, slack, webhook):
    flipper = start_flapping(medic, clock, [worker], pagerduty, slack, webhook)
    key = check_flapping_notice(medic, pagerduty, slack, webhook)
    for _ in range(5):  # keeps flapping: recorded, nobody told
        flipper.flip("UP")
        flipper.flip("DOWN")
    flipper.flip("UP")
    assert len(pagerduty.requests) == 7 and len(slack.requests) == 7 and len(webhook.requests) == 7
    assert len(medic.alerts(limit=100)) == 4 + 5  # every open and close is still recorded
    assert {a["external_reference_id"] for a in medic.alerts(limit=100)[:6]} == {key}  # one incident

    for _ in range(11):  # healthy, 55 minutes without a change: still paused
        clock.advance(minutes=5)
        medic.beat()
        worker.run_once()
    assert len(webhook.requests) == 7 and medic.service()["flapping"] is True
    clock.advance(minutes=5)  # an hour
    medic.beat()
    worker.run_once()
    assert pd_events(pagerduty)[7:] == [("resolve", key)]  # the one incident resolved
    assert events(webhook)[7:] == ["resolve"] and len(slack.requests) == 8
    assert medic.service()["flapping"] is False
    for _ in range(3):
        clock.advance(minutes=5)
        medic.beat()
        worker.run_once()
    assert len(pagerduty.requests) == 8 and len(webhook.requests) == 8 and len(slack.requests) == 8

    flipper.flip("DOWN")  # stable again: pages as usual
    assert [action for action, _ in pd_events(pagerduty)][8:] == ["trigger"]
    assert events(webhook)[8:] == ["trigger"]


def test_flapping_service_still_down_when_stable_is_triggered_once(medic, worker, clock, pagerduty, slack, webhook):
    flipper = start_flapping(medic, clock, [worker], pagerduty, slack, webhook)
    key = check_flapping_notice(medic, pagerduty, slack, webhook)
    flipper.flip("UP")
    flipper.flip("DOWN")
    clock.advance(minutes=61)
    worker.run_once()
    assert pd_events(pagerduty)[7:] == [("trigger", key)]  # the open incident, confirmed
    assert events(webhook)[7:] == ["trigger"] and len(slack.requests) == 8
    assert webhook.requests[-1].json["alert"]["flapping_ended"] is True
    for _ in range(3):
        clock.advance(minutes=5)
        worker.run_once()
    assert len(pagerduty.requests) == 8 and len(webhook.requests) == 8
    medic.beat()  # recovers: resolved as usual, with the same key
    worker.run_once()
    assert pd_events(pagerduty)[8:] == [("resolve", key)]


def test_flapping_with_two_workers_sends_each_notice_once(medic, make_worker, clock, pagerduty, slack, webhook):
    workers = [make_worker(), make_worker()]
    flipper = start_flapping(medic, clock, workers, pagerduty, slack, webhook)
    key = check_flapping_notice(medic, pagerduty, slack, webhook)
    for _ in range(3):
        flipper.flip("UP")
        flipper.flip("DOWN")
    clock.advance(minutes=61)
    flipper.run()
    flipper.run()
    assert pd_events(pagerduty)[7:] == [("trigger", key)]
    assert Counter(events(webhook)) == {"trigger": 4, "resolve": 3, "flapping": 1}
    assert len(slack.requests) == 8


def test_deactivating_a_flapping_service_resolves_it_at_once(medic, worker, clock, pagerduty, slack, webhook):
    start_flapping(medic, clock, [worker], pagerduty, slack, webhook)
    key = check_flapping_notice(medic, pagerduty, slack, webhook)
    medic.update(active=False)
    worker.run_once()
    assert pd_events(pagerduty)[7:] == [("resolve", key)] and events(webhook)[7:] == ["resolve"]
    assert medic.service()["flapping"] is False
    clock.advance(minutes=61)
    worker.run_once()
    assert len(pagerduty.requests) == 8 and len(webhook.requests) == 8  # nothing reported twice
