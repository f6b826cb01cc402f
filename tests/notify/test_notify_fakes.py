"""The stand-in providers themselves: other suites rely on them behaving."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from medic.config import load_settings
from medic.notify import Notification, build_channels, channel_status, close_channels
from tests.fakes import Response, fake_pagerduty, fake_slack, fake_webhook, provider_env


def test_scripted_replies_in_order_then_default(webhook):
    webhook.queue(Response(500), lambda req: Response(201, {"echo": req.json}), Response(429))
    assert webhook.pending == 3
    statuses = [httpx.post(webhook.endpoint, json={"n": n}).status_code for n in range(4)]
    assert statuses == [500, 201, 429, 200]
    assert webhook.pending == 0
    assert [r.json for r in webhook.requests] == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]


def test_callable_reply_sees_request(webhook):
    webhook.queue(lambda req: Response(201, {"echo": req.json}))
    assert httpx.post(webhook.endpoint, json={"a": 1}).json() == {"echo": {"a": 1}}


def test_set_default(webhook):
    webhook.set_default(Response(418, {"teapot": True}))
    assert httpx.get(webhook.url + "/x").status_code == 418
    assert httpx.get(webhook.url + "/y").json() == {"teapot": True}


def test_records_form_bodies_headers_and_query(webhook):
    httpx.post(webhook.url + "/path?x=1", data={"channel": "C1", "text": "hi"}, headers={"X-Thing": "v"})
    [request] = webhook.requests
    assert request.path == "/path?x=1"
    assert request.form == {"channel": "C1", "text": "hi"}
    assert request.json is None
    assert request.data == {"channel": "C1", "text": "hi"}
    assert request.headers["x-thing"] == request.headers["X-THING"] == "v"
    assert "X-Thing" in request.headers


def test_wait_for_wakes_when_requests_arrive(webhook):
    def later():
        time.sleep(0.1)
        for _ in range(2):
            httpx.post(webhook.endpoint, json={})

    thread = threading.Thread(target=later)
    started = time.monotonic()
    thread.start()
    got = webhook.wait_for(2, timeout=5)
    thread.join()
    assert len(got) == 2
    assert time.monotonic() - started < 3


def test_wait_for_times_out_with_a_helpful_message(webhook):
    httpx.post(webhook.endpoint, json={})
    with pytest.raises(AssertionError, match=r"expected at least 2 request\(s\) within 0.2s, got 1"):
        webhook.wait_for(2, timeout=0.2)


def test_clear_keeps_script_reset_drops_it(webhook):
    webhook.queue(Response(500), Response(502))
    httpx.post(webhook.endpoint)
    webhook.clear()
    assert webhook.requests == []
    assert webhook.pending == 1
    webhook.reset()
    assert webhook.pending == 0
    assert httpx.post(webhook.endpoint).status_code == 200


def test_stop_does_not_wait_for_delayed_replies():
    provider = fake_webhook().start()
    provider.queue(Response(200, delay=30))
    errors = []

    def call():
        try:
            httpx.post(provider.endpoint, timeout=5)
        except httpx.HTTPError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    provider.wait_for(1)
    started = time.monotonic()
    provider.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert not thread.is_alive()
    assert len(errors) == 1  # the connection was closed without an answer


def test_fake_pagerduty_answers_like_pagerduty():
    with fake_pagerduty() as pd:
        ok = httpx.post(pd.endpoint, json={
            "routing_key": "rk", "event_action": "trigger", "dedup_key": "k1",
            "payload": {"summary": "s", "source": "medic", "severity": "info"},
        })
        assert (ok.status_code, ok.json()["dedup_key"]) == (202, "k1")
        generated = httpx.post(pd.endpoint, json={
            "routing_key": "rk", "event_action": "trigger",
            "payload": {"summary": "s", "source": "medic", "severity": "critical"},
        })
        assert generated.status_code == 202 and len(generated.json()["dedup_key"]) == 32
        bad = httpx.post(pd.endpoint, json={"routing_key": "rk", "event_action": "resolve"})
        assert bad.status_code == 400
        assert bad.json()["errors"] == ["'dedup_key' is required for acknowledge and resolve"]
        severity = httpx.post(pd.endpoint, json={
            "routing_key": "rk", "event_action": "trigger",
            "payload": {"summary": "s", "source": "medic", "severity": "p1"},
        })
        assert severity.status_code == 400


def test_fake_slack_answers_like_slack():
    with fake_slack() as slack:
        def post(method, json, token="xoxb-1"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return httpx.post(slack.endpoint + method, json=json, headers=headers).json()

        first = post("chat.postMessage", {"channel": "C1", "text": "a"})
        second = post("chat.postMessage", {"channel": "C1", "text": "b", "thread_ts": first["ts"]})
        assert first["ok"] and second["ok"] and first["channel"] == "C1"
        assert float(second["ts"]) > float(first["ts"])
        assert second["message"]["thread_ts"] == first["ts"]
        assert post("chat.postMessage", {"channel": "C1", "text": "a"}, token=None)["error"] == "not_authed"
        assert post("chat.postMessage", {"text": "a"})["error"] == "channel_not_found"
        assert post("chat.postMessage", {"channel": "C1"})["error"] == "no_text"
        assert post("chat.delete", {"channel": "C1"})["error"] == "unknown_method"


def test_provider_env_wires_every_channel(pagerduty, slack, webhook, payload):
    settings = load_settings(provider_env(pagerduty, slack, webhook), notify_timeout_seconds=2.0)
    assert channel_status(settings) == {"pagerduty": True, "slack": True, "webhook": True, "email": False, "apprise": False}
    channels = build_channels(settings)
    try:
        results = {
            name: channel.send(Notification(id=1, channel=name, kind="trigger", payload=payload, thread_ref=None))
            for name, channel in channels.items()
        }
    finally:
        close_channels(channels)
    assert {name: r.outcome for name, r in results.items()} == {
        "pagerduty": "delivered", "slack": "delivered", "webhook": "delivered",
    }
    assert pagerduty.requests[0].json["routing_key"] == "test-routing-key"
    assert slack.requests[0].json["channel"] == "C0MEDICTEST"
    assert "x-medic-signature" in webhook.requests[0].headers
