from __future__ import annotations

import email.utils
import time

import pytest

from medic.notify import DeliveryResult
from medic.notify.pagerduty import PagerDutyChannel, severity_for
from tests.fakes import Response

ROUTING_KEY = "R0UTINGKEY-secret-0123456789abcdef"


@pytest.fixture
def channel(pagerduty, make_settings):
    settings = make_settings(pagerduty_routing_key=ROUTING_KEY, pagerduty_events_url=pagerduty.endpoint)
    channel = PagerDutyChannel.from_settings(settings)
    yield channel
    channel.close()


def test_trigger_sends_exact_event_and_is_delivered(channel, pagerduty, note):
    result = channel.send(note("trigger"))

    assert result == DeliveryResult("delivered", provider_ref="medic-alert-42")
    [request] = pagerduty.requests
    assert request.method == "POST"
    assert request.path == "/v2/enqueue"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "medic-alert-42",
        "payload": {
            "summary": "Heartbeat 'db-backup' of service 'billing': missed heartbeats",
            "source": "medic",
            "severity": "critical",
            "timestamp": "2024-05-01T10:00:00+00:00",
            "component": "billing",
            "group": "payments",
            "class": "missed_heartbeats",
            "custom_details": {
                "heartbeat_name": "db-backup",
                "reason": "missed_heartbeats",
                "alert_interval": 5,
                "threshold": 2,
                "last_heartbeat_at": "2024-05-01T09:54:00+00:00",
                "opened_at": "2024-05-01T10:00:00+00:00",
                "team": "payments",
                "priority": "p1",
            },
        },
        "links": [{"href": "https://runbooks.example.com/billing?section=backup&v=2", "text": "Runbook"}],
        "client": "Medic",
        "client_url": "https://medic.example.com/services/7",
    }


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("p1", "critical"), ("p2", "error"), ("p3", "warning"), ("p4", "info"), ("p5", "info")],
)
def test_severity_follows_priority(channel, pagerduty, note, priority, severity):
    assert channel.send(note("trigger", priority=priority)).outcome == "delivered"
    assert pagerduty.requests[0].json["payload"]["severity"] == severity


def test_unknown_priority_pages_as_critical():
    assert severity_for("P2") == "error"
    assert severity_for("urgent") == "critical"
    assert severity_for(None) == "critical"


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("reported_down", "reported DOWN"),
        ("never_reported", "never sent a heartbeat"),
        ("job_failed", "job failed"),
        ("job_overdue", "job overdue"),
    ],
)
def test_summary_names_reason(channel, pagerduty, note, reason, words):
    channel.send(note("trigger", reason=reason))
    summary = pagerduty.requests[0].json["payload"]["summary"]
    assert summary == f"Heartbeat 'db-backup' of service 'billing': {words}"


def test_trigger_without_runbook_or_medic_link(channel, pagerduty, note):
    assert channel.send(note("trigger", runbook=None, medic_url=None, last_heartbeat_at=None)).delivered
    event = pagerduty.requests[0].json
    assert "links" not in event
    assert "client" not in event and "client_url" not in event
    assert event["payload"]["custom_details"]["last_heartbeat_at"] is None


def test_resolve_uses_same_dedup_key(channel, pagerduty, note):
    assert channel.send(note("trigger")).delivered
    result = channel.send(note("resolve", reason="recovered", closed_at="2024-05-01T10:20:00+00:00"))

    assert result == DeliveryResult("delivered", provider_ref="medic-alert-42")
    trigger, resolve = pagerduty.requests
    assert resolve.json == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "medic-alert-42"}
    assert trigger.json["dedup_key"] == resolve.json["dedup_key"]


def test_reminder_is_not_sent_to_pagerduty(channel, pagerduty, note):
    # send() is synchronous: any request would have been received before it returned.
    assert channel.send(note("reminder")).outcome == "delivered"
    assert pagerduty.requests == []


def test_unknown_kind_and_missing_dedup_key_are_permanent(channel, pagerduty, note):
    assert channel.send(note("acknowledge")).outcome == "permanent"
    assert channel.send(note("trigger", dedup_key=None)).outcome == "permanent"
    assert pagerduty.requests == []


def test_500_is_retried(channel, pagerduty, note):
    pagerduty.queue(Response(500, {"status": "error"}))
    result = channel.send(note())
    assert result.outcome == "retry"
    assert result.retry_after is None
    assert result.error.startswith("HTTP 500")


def test_429_with_retry_after_seconds(channel, pagerduty, note):
    pagerduty.queue(Response(429, {"status": "throttled"}, headers={"Retry-After": "7"}))
    result = channel.send(note())
    assert (result.outcome, result.retry_after) == ("retry", 7.0)


def test_503_with_retry_after_http_date(channel, pagerduty, note):
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    pagerduty.queue(Response(503, body=b"<html>down</html>", headers={"Retry-After": when}))
    result = channel.send(note())
    assert result.outcome == "retry"
    assert 55 <= result.retry_after <= 60


def test_400_is_permanent_with_providers_reason(channel, pagerduty, note):
    # The real answer of the fake to an invalid event (no routing key).
    bad = PagerDutyChannel("", pagerduty.endpoint, timeout=2)
    try:
        result = bad.send(note())
    finally:
        bad.close()
    assert result.outcome == "permanent"
    assert result.error.startswith("HTTP 400: Event object is invalid")
    assert "routing_key" in result.error


def test_500_then_429_then_202_delivers_on_third_attempt(channel, pagerduty, note):
    pagerduty.queue(Response(500), Response(429, headers={"Retry-After": "1"}))
    outcomes = [channel.send(note()).outcome for _ in range(3)]
    assert outcomes == ["retry", "retry", "delivered"]
    assert len(pagerduty.requests) == 3


def test_timeout_is_retried(pagerduty, make_settings, note):
    settings = make_settings(
        pagerduty_routing_key=ROUTING_KEY,
        pagerduty_events_url=pagerduty.endpoint,
        notify_timeout_seconds=0.5,
    )
    channel = PagerDutyChannel.from_settings(settings)
    pagerduty.queue(Response(202, {"status": "success"}, delay=3))
    started = time.monotonic()
    try:
        result = channel.send(note())
    finally:
        channel.close()
    assert result.outcome == "retry"
    assert "Timeout" in result.error
    assert time.monotonic() - started < 2


def test_connection_refused_is_retried(closed_port, note):
    channel = PagerDutyChannel(ROUTING_KEY, f"http://127.0.0.1:{closed_port}/v2/enqueue", timeout=2)
    try:
        result = channel.send(note())
    finally:
        channel.close()
    assert result.outcome == "retry"
    assert "ConnectError" in result.error


def test_dropped_connection_is_retried(channel, pagerduty, note):
    pagerduty.queue(Response(drop=True))
    assert channel.send(note()).outcome == "retry"


@pytest.mark.parametrize(
    "reply",
    [
        Response(400, {"status": "invalid event", "message": f"bad routing key {ROUTING_KEY}"}),
        Response(400, body=f"routing_key={ROUTING_KEY} rejected".encode()),
        Response(500, {"message": ROUTING_KEY, "errors": [ROUTING_KEY]}),
    ],
)
def test_routing_key_never_in_error(channel, pagerduty, note, reply):
    pagerduty.queue(reply)
    result = channel.send(note())
    assert result.outcome != "delivered"
    assert result.error
    assert ROUTING_KEY not in result.error
