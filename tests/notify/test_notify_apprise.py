"""Apprise, with its URLs aimed at stand-in HTTP servers on 127.0.0.1."""

from __future__ import annotations

import logging
import time

import pytest

from medic.config import ConfigError, load_settings
from medic.notify import APPRISE, Notification, build_channels, close_channels
from medic.notify.apprise import AppriseChannel
from tests.fakes.providers import Response

TOKEN = "T0KEN-in-the-apprise-url-0123456789"


def json_url(provider, path: str = "/hook") -> str:
    return f"json://127.0.0.1:{provider.port}{path}"


def test_json_target_gets_title_message_and_type(webhook, note):
    channel = AppriseChannel(json_url(webhook), timeout=2)
    assert channel.send(note("trigger", channel="apprise")).delivered
    assert channel.send(note("reminder", channel="apprise", occurred_at="2024-05-01T10:45:00+00:00")).delivered
    assert channel.send(note("resolve", channel="apprise", reason="recovered", closed_at="2024-05-01T10:07:00+00:00")).delivered
    trigger, reminder, resolve = (r.json for r in webhook.requests)
    assert all(r.path == "/hook" and r.method == "POST" for r in webhook.requests)
    assert trigger["type"] == "failure" and reminder["type"] == "warning" and resolve["type"] == "success"
    assert trigger["title"] == "[Medic] DOWN (P1): heartbeat db-backup of service billing"
    assert trigger["message"].splitlines() == [
        "Heartbeat db-backup of service billing: missed heartbeats.",
        "Last heartbeat: 2024-05-01T09:54:00+00:00",
        "Team: payments",
        "Runbook: https://runbooks.example.com/billing?section=backup&v=2",
        "Open in Medic: https://medic.example.com/services/7",
    ]
    assert reminder["message"].startswith("Still down for 45m: heartbeat db-backup of service billing")
    assert resolve["title"] == "[Medic] RESOLVED: heartbeat db-backup of service billing"
    assert resolve["message"].startswith("Recovered after 7m: heartbeat db-backup")


def test_form_and_ntfy_targets(webhook, note):
    channel = AppriseChannel([f"form://127.0.0.1:{webhook.port}/form", f"ntfy://127.0.0.1:{webhook.port}/medic-alerts"],
                             timeout=2)
    assert channel.targets == 2
    assert channel.send(note("trigger", channel="apprise")).delivered
    form, ntfy = webhook.requests
    assert form.path == "/form" and form.form["type"] == "failure"
    assert form.form["title"].startswith("[Medic] DOWN (P1)")
    assert ntfy.json["topic"] == "medic-alerts" and ntfy.json["title"].startswith("[Medic] DOWN (P1)")


@pytest.mark.parametrize(
    "reply, outcome, detail",
    [
        (Response(503), "retry", "HTTP 503"),
        (Response(500), "retry", "HTTP 500"),
        (Response(429, headers={"Retry-After": "3"}), "retry", "HTTP 429"),
        (Response(400, {"error": "bad"}), "permanent", "HTTP 400"),
        (Response(401), "permanent", "HTTP 401"),
        (Response(404), "permanent", "HTTP 404"),
    ],
)
def test_failures_are_classified_by_the_service_status(webhook, note, reply, outcome, detail):
    webhook.queue(reply)
    result = AppriseChannel(json_url(webhook), timeout=2).send(note(channel="apprise"))
    assert result.outcome == outcome
    assert result.error == f"Apprise target: JSON: {detail}"


def test_connection_refused_is_retried(closed_port, note):
    result = AppriseChannel(f"json://127.0.0.1:{closed_port}/hook", timeout=2).send(note(channel="apprise"))
    assert result.outcome == "retry" and "connection failed or timed out" in result.error


def test_a_target_that_times_out_is_retried(webhook, note):
    webhook.queue(Response(200, delay=3))
    started = time.monotonic()
    result = AppriseChannel(json_url(webhook), timeout=0.5).send(note(channel="apprise"))
    assert result.outcome == "retry"
    assert time.monotonic() - started < 2.5


def test_a_retry_reaches_only_the_targets_that_failed(webhook, slack, note):
    # Two stand-ins: `webhook` accepts, `slack` (answering any path) fails once.
    good, flaky = json_url(webhook, "/good"), f"json://127.0.0.1:{slack.port}/flaky"
    slack.set_default(Response(200, {}))
    slack.queue(Response(503))
    channel = AppriseChannel(f"{good}, {flaky}", timeout=2)
    first = channel.send(note(channel="apprise"))
    assert first.outcome == "retry" and first.error == "Apprise target 2 of 2: JSON: HTTP 503"
    assert channel.send(note(channel="apprise")).delivered
    assert len(webhook.requests) == 1 and len(slack.requests) == 2
    # A different notification goes to both again.
    channel.send(Notification(1002, "apprise", "resolve", {**note().payload, "event": "resolve"}))
    assert len(webhook.requests) == 2 and len(slack.requests) == 3


def test_one_target_failing_for_good_does_not_resend_to_the_other(webhook, slack, note):
    slack.set_default(Response(410))
    channel = AppriseChannel([json_url(webhook), f"json://127.0.0.1:{slack.port}/gone"], timeout=2)
    result = channel.send(note(channel="apprise"))
    assert result.outcome == "permanent" and result.error == "Apprise target 2 of 2: JSON: HTTP 410"
    assert len(webhook.requests) == 1


@pytest.fixture
def medic_logging(capsys):
    """Medic's own log output at DEBUG, as `medic worker` sets it up; yields a reader of it."""
    from medic.logs import configure

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure("DEBUG", "text")
    yield lambda: capsys.readouterr().err
    root.handlers[:] = handlers
    root.setLevel(level)


def test_tokens_in_the_url_never_reach_errors_or_logs(webhook, note, medic_logging):
    webhook.set_default(Response(400, body=f"bad token {TOKEN}".encode()))
    url = f"json://user:{TOKEN}@127.0.0.1:{webhook.port}/hooks/{TOKEN}"
    channel = AppriseChannel(url, timeout=2)
    result = channel.send(note(channel="apprise"))
    logging.getLogger("medic.test").debug("logging works")
    assert result.outcome == "permanent"
    assert webhook.requests[0].path == f"/hooks/{TOKEN}"  # the token was really used
    assert TOKEN not in result.error
    output = medic_logging()
    assert "logging works" in output
    assert TOKEN not in output


def test_settings_build_the_channel_with_several_urls(webhook, note):
    urls = f"{json_url(webhook, '/a')} {json_url(webhook, '/b')}"
    settings = load_settings({"APPRISE_URL": urls, "NOTIFY_TIMEOUT_SECONDS": "2"})
    assert settings.apprise_configured
    assert urls not in repr(settings)
    channels = build_channels(settings)
    try:
        assert channels[APPRISE].targets == 2
        assert channels[APPRISE].send(note(channel="apprise")).delivered
    finally:
        close_channels(channels)
    assert sorted(r.path for r in webhook.requests) == ["/a", "/b"]


@pytest.mark.parametrize("value", ["nosuchscheme://host/" + TOKEN, "json://127.0.0.1/ok, discord://" + TOKEN])
def test_an_unusable_url_stops_the_start_without_showing_it(value, medic_logging):
    with pytest.raises(ConfigError) as caught:
        load_settings({"APPRISE_URL": value})
    message = str(caught.value)
    assert "APPRISE_URL" in message and "is not a URL Apprise supports" in message
    assert TOKEN not in message and TOKEN not in medic_logging()
