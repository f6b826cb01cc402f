"""The alert rules end to end: API -> database -> worker -> stand-in providers."""

from __future__ import annotations

import pytest

from medic.worker.dispatch import lease_for
from tests.fakes.providers import Response


def pd_events(pagerduty) -> list[tuple[str, str]]:
    return [(r.json["event_action"], r.json["dedup_key"]) for r in pagerduty.requests]


def test_missed_heartbeats_page_once_on_every_channel(medic, worker, clock, pagerduty, slack, webhook):
    medic.register(alert_interval=1)
    medic.beat()
    clock.advance(seconds=59)
    worker.run_once()
    assert pagerduty.requests == [] and slack.requests == [] and webhook.requests == []

    clock.advance(seconds=2)
    worker.run_once()
    assert [action for action, _ in pd_events(pagerduty)] == ["trigger"]
    trigger = pagerduty.requests[0].json
    assert trigger["payload"]["severity"] == "warning"  # p3
    assert "svc-hb" in trigger["payload"]["summary"]
    assert len(slack.requests) == 1 and len(webhook.requests) == 1
    assert webhook.requests[0].json["event"] == "trigger"

    for _ in range(5):
        clock.advance(seconds=15)
        worker.run_once()
    assert len(pagerduty.requests) == 1 and len(slack.requests) == 1 and len(webhook.requests) == 1

    service = medic.service()
    assert service["down"] == 1 and service["state"] == "down"
    [alert] = medic.alerts(active="true")
    assert alert["open_reason"] == "missed_heartbeats"
    assert alert["external_reference_id"] == trigger["dedup_key"]


def test_down_heartbeat_pages_on_next_cycle(medic, worker, clock, pagerduty):
    medic.register(alert_interval=10)
    medic.beat(status="UP")
    worker.run_once()
    medic.beat(status="DOWN")
    clock.advance(seconds=1)
    worker.run_once()
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger"]
    assert medic.alerts()[0]["open_reason"] == "reported_down"


def test_recovery_resolves_with_the_same_dedup_key_and_threads_slack(medic, worker, clock, pagerduty, slack, webhook):
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    trigger_ts = "1767614400.000042"  # what Slack answers for the alert message
    slack.queue(Response(200, {"ok": True, "channel": "C1", "ts": trigger_ts}))
    worker.run_once()
    medic.beat()
    worker.run_once()
    events = pd_events(pagerduty)
    assert [a for a, _ in events] == ["trigger", "resolve"]
    assert events[0][1] == events[1][1]
    first, second = slack.requests
    assert "thread_ts" not in first.data  # the alert starts its own thread...
    assert second.data["thread_ts"] == trigger_ts  # ...and the recovery is posted in it
    assert second.data["reply_broadcast"] is True  # also shown in the channel
    assert [r.json["event"] for r in webhook.requests] == ["trigger", "resolve"]
    [alert] = medic.alerts()
    assert alert["active"] == 0 and alert["close_reason"] == "recovered"
    assert medic.service()["down"] == 0


def test_never_reported_service_alerts_after_one_window(medic, worker, clock, pagerduty):
    medic.register(alert_interval=2)
    clock.advance(seconds=119)
    worker.run_once()
    assert pagerduty.requests == []
    assert medic.service()["state"] == "new"
    clock.advance(seconds=1)
    worker.run_once()
    assert len(pagerduty.requests) == 1
    assert medic.alerts()[0]["open_reason"] == "never_reported"


def test_threshold_needs_that_many_heartbeats(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1, threshold=3)
    for _ in range(3):
        medic.beat()
        clock.advance(seconds=19)
    worker.run_once()  # three heartbeats within the last minute
    assert pagerduty.requests == []
    clock.advance(seconds=3)  # the oldest of the three is now out of the window
    worker.run_once()
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger"]
    clock.advance(seconds=30)
    medic.beat()
    worker.run_once()  # only two heartbeats within the window: still down
    assert len(pagerduty.requests) == 1
    clock.advance(seconds=1)
    medic.beat()
    worker.run_once()
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger", "resolve"]


def test_grace_period_delays_the_page(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1, grace_period_seconds=30)
    medic.beat()
    clock.advance(seconds=89)
    worker.run_once()
    assert pagerduty.requests == []
    clock.advance(seconds=1)
    worker.run_once()
    assert len(pagerduty.requests) == 1


def test_muted_service_stays_silent_then_pages_when_unmuted(medic, worker, clock, pagerduty, slack):
    medic.register(alert_interval=1)
    medic.beat()
    medic.update(muted=True)
    clock.advance(minutes=5)
    worker.run_once()
    assert pagerduty.requests == [] and slack.requests == []
    assert medic.service()["down"] == 0
    medic.update(muted=False)
    worker.run_once()
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger"]


def test_mute_lifts_itself_after_auto_unmute_hours(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1)
    medic.update(muted=1)
    clock.advance(hours=23, minutes=59)
    worker.run_once()
    assert pagerduty.requests == []
    assert medic.service()["muted"] == 1
    clock.advance(minutes=1)
    worker.run_once()
    assert medic.service()["muted"] == 0
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger"]


@pytest.mark.parametrize("how", [{"mute_for": "2h"}, {"muted": True, "muted_until": "2026-01-05T16:00:00+02:00"}])
def test_timed_mute_lifts_at_its_end_and_pages_if_still_down(medic, worker, clock, pagerduty, how):
    medic.register(alert_interval=1)
    medic.beat()
    muted = medic.update(**how)  # the clock starts at 12:00Z; 16:00+02:00 is two hours on
    assert muted["muted"] == 1 and muted["muted_until"] == "2026-01-05T14:00:00Z"
    clock.advance(hours=1, minutes=59)
    worker.run_once()
    assert pagerduty.requests == [] and medic.service()["muted"] == 1
    clock.advance(minutes=2)
    worker.run_once()
    service = medic.service()
    assert service["muted"] == 0 and service["muted_until"] is None
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger"]


def test_a_mute_without_a_duration_shows_its_default_end(medic, clock):
    medic.register(alert_interval=1)
    assert medic.update(muted=True)["muted_until"] == "2026-01-06T12:00:00Z"  # AUTO_UNMUTE_HOURS, 24
    assert medic.update(mute_for="30m")["muted_until"] == "2026-01-05T12:30:00Z"  # a new end for a muted service
    assert medic.update(muted=False)["muted_until"] is None


def test_deactivating_a_down_service_resolves_the_page(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1)
    clock.advance(minutes=2)
    worker.run_once()
    medic.update(active=False)
    worker.run_once()
    events = pd_events(pagerduty)
    assert [a for a, _ in events] == ["trigger", "resolve"] and events[0][1] == events[1][1]
    assert medic.alerts()[0]["close_reason"] == "deactivated"
    clock.advance(hours=1)
    worker.run_once()
    assert len(pagerduty.requests) == 2


def test_reactivated_service_gets_a_fresh_window(medic, worker, clock, pagerduty):
    medic.register(alert_interval=1)
    medic.update(active=False)
    clock.advance(hours=2)
    worker.run_once()
    medic.update(active=True)
    clock.advance(seconds=59)
    worker.run_once()
    assert pagerduty.requests == []


def test_pagerduty_500_then_429_then_202_delivers_once_in_order(medic, worker, clock, pagerduty, slack):
    pagerduty.queue(Response(500, {"status": "error"}), Response(429, {"status": "throttled"}, headers={"Retry-After": "20"}))
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()  # trigger: 500
    medic.beat()
    worker.run_once()  # recovered: resolve queued behind the unfinished trigger
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger"]
    assert len(slack.requests) == 2  # Slack is not held up by PagerDuty

    clock.advance(seconds=3)
    worker.deliver()  # trigger again: 429 asking for 20 s
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger", "trigger"]
    clock.advance(seconds=10)
    worker.deliver()
    assert len(pagerduty.requests) == 2  # Retry-After honoured
    clock.advance(seconds=11)
    worker.deliver()  # trigger accepted, then the resolve
    worker.deliver()
    assert [a for a, _ in pd_events(pagerduty)] == ["trigger", "trigger", "trigger", "resolve"]
    assert len({key for _, key in pd_events(pagerduty)}) == 1
    clock.advance(minutes=5)
    worker.deliver()
    assert len(pagerduty.requests) == 4


def test_slack_failing_is_retried_without_holding_up_pagerduty(medic, worker, clock, pagerduty, slack, api):
    slack.queue(*[Response(503, {"ok": False})] * 3)
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    assert len(pagerduty.requests) == 1 and len(slack.requests) == 1
    health = api.get("/health").json()["results"]
    assert health["outbox"]["by_channel"] == {"slack": 1}
    for _ in range(3):
        clock.advance(minutes=6)
        worker.deliver()
    assert len(slack.requests) == 4
    assert api.get("/health").json()["results"]["outbox"]["pending"] == 0


def test_permanent_error_is_recorded_and_not_retried(medic, worker, clock, pagerduty, engine):
    pagerduty.queue(Response(400, {"status": "invalid event", "errors": ["bad"]}))
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    clock.advance(hours=1)
    worker.run_once()
    assert len(pagerduty.requests) == 1
    from medic.store.outbox import list_for_alert

    with engine.connect() as conn:
        rows = {row.channel: row for row in list_for_alert(conn, medic.alerts()[0]["alert_id"])}
    assert rows["pagerduty"].state == "failed" and "400" in rows["pagerduty"].last_error
    assert rows["slack"].state == "delivered"


def test_a_timeout_is_retried(medic, worker, clock, pagerduty):
    pagerduty.queue(Response(202, {"status": "success"}, delay=3))  # longer than NOTIFY_TIMEOUT_SECONDS=2
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    clock.advance(seconds=5)
    worker.deliver()
    assert [r.json["event_action"] for r in pagerduty.requests] == ["trigger", "trigger"]


def test_notification_survives_a_worker_dying_after_the_transition(medic, make_worker, clock, pagerduty, engine):
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    first = make_worker()
    first.evaluate()  # the transition and its outbox rows are committed ...
    first.close()  # ... and the worker is gone before delivering anything
    assert pagerduty.requests == []
    make_worker().run_once()
    assert [r.json["event_action"] for r in pagerduty.requests] == ["trigger"]


def test_a_claim_left_by_a_dead_worker_expires_and_is_delivered(medic, make_worker, clock, pagerduty, engine):
    from medic.store import outbox

    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    make_worker().evaluate()
    lease = lease_for(2)  # NOTIFY_TIMEOUT_SECONDS in these tests
    with engine.begin() as conn:  # a worker claims the row, then dies mid-send
        claimed = outbox.claim_due(conn, clock(), lease, 10, channel="pagerduty")
    assert claimed
    survivor = make_worker()
    survivor.deliver()
    assert pagerduty.requests == []  # still claimed
    clock.advance(seconds=lease.total_seconds() + 1)
    survivor.deliver()
    assert [r.json["event_action"] for r in pagerduty.requests] == ["trigger"]


def test_no_channels_configured_still_records_alerts(medic, clock, settings, engine):
    from medic.worker.loop import Worker

    plain = Worker(settings, engine, clock=clock, channels={}, run_daily_cleanup=False)
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    plain.run_once()
    plain.close()
    assert medic.service()["down"] == 1
    assert medic.alerts()[0]["active"] == 1


def test_rows_for_a_channel_this_worker_lacks_stay_pending(medic, make_worker, clock, pagerduty, slack, api):
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    make_worker().evaluate()  # rows for pagerduty, slack and webhook
    partial = make_worker(channels={"pagerduty": make_worker().channels["pagerduty"]})
    partial.deliver()
    assert len(pagerduty.requests) == 1 and slack.requests == []
    outbox = api.get("/health").json()["results"]["outbox"]
    assert outbox["by_channel"] == {"slack": 1, "webhook": 1}  # not failed, not lost: waiting
    make_worker().deliver()
    assert len(slack.requests) == 1
