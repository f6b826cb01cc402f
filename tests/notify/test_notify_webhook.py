from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from medic.config import ConfigError, load_settings
from medic.notify import DeliveryResult, Notification
from medic.notify.webhook import WebhookChannel, standard_key, verify_signature
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


# Standard Webhooks (https://www.standardwebhooks.com), verified with the official library.

STANDARD_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def _standard_headers(request) -> dict[str, str]:
    return {name: request.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}


@pytest.mark.parametrize("secret", [STANDARD_SECRET, WEBHOOK_SECRET])
def test_standard_webhooks_verifier_accepts_the_request(webhook, note, secret):
    channel = WebhookChannel(webhook.endpoint, secret, timeout=2)  # the real clock: the verifier checks freshness
    try:
        assert channel.send(note("trigger", channel="webhook")).delivered
    finally:
        channel.close()
    [request] = webhook.requests
    # A "whsec_" secret is used as the standard says; any other secret as its UTF-8 bytes.
    verifier = Webhook(secret) if secret.startswith("whsec_") else Webhook(secret.encode())
    assert verifier.verify(request.body, _standard_headers(request)) == json.loads(request.body)
    assert request.headers["webhook-timestamp"] == request.headers["x-medic-timestamp"]
    # The original signature is still sent, over the same body, with the secret as given.
    assert verify_signature(secret, request.headers["x-medic-timestamp"], request.body, request.headers["x-medic-signature"])


def test_standard_webhooks_verifier_rejects_a_tampered_request(webhook, note):
    channel = WebhookChannel(webhook.endpoint, STANDARD_SECRET, timeout=2)
    try:
        channel.send(note("resolve", channel="webhook", reason="recovered"))
    finally:
        channel.close()
    [request] = webhook.requests
    headers = _standard_headers(request)
    verifier = Webhook(STANDARD_SECRET)
    tampered = request.body.replace(b'"recovered"', b'"deactivated"')
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError):
        verifier.verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        verifier.verify(request.body, {**headers, "webhook-id": headers["webhook-id"] + "x"})
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another-key-of-32-bytes-length!!").decode()).verify(request.body, headers)


def test_webhook_id_is_stable_across_retries_and_unique_per_notification(webhook, note):
    times = iter([SENT_AT, SENT_AT + 30, SENT_AT + 60])
    channel = WebhookChannel(webhook.endpoint, STANDARD_SECRET, timeout=2, clock=lambda: next(times))
    webhook.queue(Response(503))
    try:
        first = note("trigger", channel="webhook")
        assert channel.send(first).outcome == "retry"
        assert channel.send(first).delivered
        other = Notification(id=1002, channel="webhook", kind="resolve", payload={**first.payload, "event": "resolve"})
        assert channel.send(other).delivered
    finally:
        channel.close()
    attempt, retry, resolve = webhook.requests
    assert attempt.headers["webhook-id"] == retry.headers["webhook-id"] == "msg_medic-alert-42_1001"
    assert resolve.headers["webhook-id"] != attempt.headers["webhook-id"]
    assert [r.headers["webhook-timestamp"] for r in webhook.requests] == [str(t) for t in (SENT_AT, SENT_AT + 30, SENT_AT + 60)]
    # Each attempt is signed for its own timestamp.
    assert attempt.headers["webhook-signature"] != retry.headers["webhook-signature"]


def test_without_a_secret_the_ids_are_sent_but_nothing_is_signed(webhook, note):
    channel = WebhookChannel(webhook.endpoint, None, timeout=2)
    try:
        channel.send(note("trigger", channel="webhook"))
    finally:
        channel.close()
    [request] = webhook.requests
    assert request.headers["webhook-id"] == "msg_medic-alert-42_1001"
    assert "webhook-timestamp" in request.headers
    assert "webhook-signature" not in request.headers and "x-medic-signature" not in request.headers


def test_a_malformed_standard_secret_is_refused_at_start(make_settings):
    with pytest.raises(ConfigError) as caught:
        load_settings({"MEDIC_WEBHOOK_URL": "http://127.0.0.1:9/hook", "MEDIC_WEBHOOK_SECRET": "whsec_not*base64!"})
    assert "MEDIC_WEBHOOK_SECRET" in str(caught.value)
    assert "not*base64" not in str(caught.value)
    with pytest.raises(ValueError):
        standard_key("whsec_")
