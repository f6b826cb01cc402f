from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from medic.notify import DeliveryResult
from medic.notify.webhook import WebhookChannel, verify_signature
from tests.fakes import Response

WEBHOOK_SECRET = "whsec-s3cr3t-value"
SENT_AT = 1_700_000_000


@pytest.fixture
def channel(webhook):
    channel = WebhookChannel(webhook.endpoint, WEBHOOK_SECRET, timeout=2, clock=lambda: SENT_AT + 0.9)
    yield channel
    channel.close()


def test_posts_event_and_alert_as_json(channel, webhook, note, payload):
    result = channel.send(note("trigger", channel="webhook"))

    assert result == DeliveryResult("delivered")
    [request] = webhook.requests
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {"event": "trigger", "alert": {**payload, "event": "trigger"}}
    assert request.headers["x-medic-event"] == "trigger"
    assert request.headers["x-medic-delivery"] == "1001"
    assert request.headers["x-medic-timestamp"] == str(SENT_AT)


def test_signature_verifies_with_the_secret(channel, webhook, note):
    channel.send(note("resolve", channel="webhook", reason="recovered"))
    request = webhook.requests[0]
    timestamp = request.headers["X-Medic-Timestamp"]
    signature = request.headers["X-Medic-Signature"]

    # Computed here independently of medic.notify.webhook.sign.
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert signature == "sha256=" + expected.hexdigest()

    now = SENT_AT + 10
    assert verify_signature(WEBHOOK_SECRET, timestamp, request.body, signature, now=now)
    assert not verify_signature("other-secret", timestamp, request.body, signature, now=now)
    assert not verify_signature(WEBHOOK_SECRET, timestamp, request.body + b" ", signature, now=now)
    assert not verify_signature(WEBHOOK_SECRET, str(SENT_AT + 1), request.body, signature, now=now)
    assert not verify_signature(WEBHOOK_SECRET, timestamp, request.body, signature, now=SENT_AT + 3600)
    assert not verify_signature(WEBHOOK_SECRET, None, request.body, signature, now=now)
    assert not verify_signature(WEBHOOK_SECRET, "soon", request.body, signature, now=now)


def test_real_clock_timestamp(webhook, note):
    channel = WebhookChannel(webhook.endpoint, WEBHOOK_SECRET, timeout=2)
    before = int(time.time())
    channel.send(note("trigger", channel="webhook"))
    after = int(time.time())
    request = webhook.requests[0]
    assert before <= int(request.headers["x-medic-timestamp"]) <= after
    assert verify_signature(WEBHOOK_SECRET, request.headers["x-medic-timestamp"], request.body,
                            request.headers["x-medic-signature"])


def test_no_signature_without_secret(webhook, make_settings, note):
    channel = WebhookChannel.from_settings(make_settings(webhook_url=webhook.endpoint))
    assert channel.send(note("reminder", channel="webhook")).delivered
    request = webhook.requests[0]
    assert "x-medic-signature" not in request.headers
    assert "x-medic-timestamp" in request.headers
    assert json.loads(request.body)["event"] == "reminder"


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_delivered(channel, webhook, note, status):
    webhook.queue(Response(status))
    assert channel.send(note(channel="webhook")).outcome == "delivered"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_5xx_retried(channel, webhook, note, status):
    webhook.queue(Response(status))
    assert channel.send(note(channel="webhook")).outcome == "retry"


def test_429_with_retry_after(channel, webhook, note):
    webhook.queue(Response(429, headers={"Retry-After": "7"}))
    assert channel.send(note(channel="webhook")) == DeliveryResult("retry", retry_after=7.0, error="HTTP 429")


@pytest.mark.parametrize("status", [301, 400, 401, 404, 410])
def test_other_statuses_permanent_and_redirects_not_followed(channel, webhook, note, status):
    webhook.queue(Response(status, headers={"Location": webhook.url + "/elsewhere"}))
    result = channel.send(note(channel="webhook"))
    assert result.outcome == "permanent"
    assert len(webhook.requests) == 1


def test_timeout_retried(webhook, note):
    channel = WebhookChannel(webhook.endpoint, WEBHOOK_SECRET, timeout=0.5)
    webhook.queue(Response(200, delay=3))
    started = time.monotonic()
    try:
        result = channel.send(note(channel="webhook"))
    finally:
        channel.close()
    assert result.outcome == "retry"
    assert "Timeout" in result.error
    assert time.monotonic() - started < 2


def test_connection_refused_retried(closed_port, note):
    channel = WebhookChannel(f"http://127.0.0.1:{closed_port}/hook", WEBHOOK_SECRET, timeout=2)
    try:
        result = channel.send(note(channel="webhook"))
    finally:
        channel.close()
    assert result.outcome == "retry"


def test_secret_and_url_token_never_in_error(webhook, note):
    url = webhook.url + "/hooks/T0KEN-IN-PATH-123456"
    channel = WebhookChannel(url, WEBHOOK_SECRET, timeout=2)
    webhook.queue(Response(400, body=f"bad secret {WEBHOOK_SECRET} for {url} /hooks/T0KEN-IN-PATH-123456".encode()))
    try:
        result = channel.send(note(channel="webhook"))
    finally:
        channel.close()
    assert result.outcome == "permanent"
    assert result.error.startswith("HTTP 400: bad secret")
    assert WEBHOOK_SECRET not in result.error
    assert "T0KEN-IN-PATH" not in result.error
