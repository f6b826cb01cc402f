from __future__ import annotations

import dataclasses
import json
import time

import pytest

from medic.notify import DeliveryResult
from medic.notify.slack import SlackChannel
from tests.fakes import Response, fake_slack

SLACK_TOKEN = "xoxb-1111-2222-SECRETTOKEN"
SLACK_CHANNEL = "C0ALERTS"


@pytest.fixture
def channel(slack, make_settings):
    settings = make_settings(
        slack_api_token=SLACK_TOKEN, slack_channel_id=SLACK_CHANNEL, slack_api_url=slack.endpoint
    )
    return SlackChannel.from_settings(settings)


def _all_text(request) -> str:
    """Everything a human would read: fallback text plus all block texts."""
    return request.json["text"] + "\n" + json.dumps(request.json["blocks"], ensure_ascii=False)


def test_trigger_posts_clear_message_and_returns_ts(channel, slack, note):
    result = channel.send(note("trigger", channel="slack"))

    [request] = slack.requests
    assert request.method == "POST"
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    body = request.json
    assert body["channel"] == SLACK_CHANNEL
    assert "thread_ts" not in body and "reply_broadcast" not in body
    assert body["text"] == ":rotating_light: [P1] Heartbeat *db-backup* of service *billing*: missed heartbeats"
    text = _all_text(request)
    for expected in ("billing", "db-backup", "payments", "P1", "missed heartbeats", "2 heartbeat(s) every 5 min"):
        assert expected in text
    links = body["blocks"][-1]
    assert links["type"] == "context"
    assert links["elements"][0]["text"] == (
        "<https://runbooks.example.com/billing?section=backup&v=2|Runbook>"
        "  ·  <https://medic.example.com/services/7|Open in Medic>"
    )
    assert result.outcome == "delivered"
    assert result.provider_ref and result.provider_ref.count(".") == 1


def test_each_message_gets_its_own_ts(channel, note):
    first = channel.send(note("trigger", channel="slack")).provider_ref
    second = channel.send(note("trigger", channel="slack")).provider_ref
    assert first != second


def test_resolve_is_posted_in_trigger_thread_and_broadcast(channel, slack, note):
    trigger = channel.send(note("trigger", channel="slack"))
    resolve = channel.send(
        note("resolve", channel="slack", thread_ref=trigger.provider_ref, reason="recovered",
             closed_at="2024-05-01T10:20:00+00:00")
    )

    assert resolve.outcome == "delivered"
    assert resolve.provider_ref != trigger.provider_ref
    body = slack.requests[1].json
    assert body["thread_ts"] == trigger.provider_ref
    assert body["reply_broadcast"] is True
    assert body["channel"] == SLACK_CHANNEL
    assert body["text"] == (
        ":white_check_mark: Recovered after 20m: heartbeat *db-backup* of service *billing* is sending heartbeats again."
    )


def test_resolve_after_deactivation_says_so(channel, slack, note):
    channel.send(note("resolve", channel="slack", thread_ref="1.000001", reason="deactivated",
                      closed_at="2024-05-01T12:00:00+00:00"))
    assert slack.requests[0].json["text"] == (
        ":white_check_mark: Resolved: service *billing* was deactivated; its alert was closed after 2h 0m."
    )


def test_reminder_is_threaded_without_broadcast(channel, slack, note):
    result = channel.send(note("reminder", channel="slack", thread_ref="1700000000.000001",
                               occurred_at="2024-05-01T11:30:00+00:00"))
    assert result.outcome == "delivered"
    body = slack.requests[0].json
    assert body["thread_ts"] == "1700000000.000001"
    assert "reply_broadcast" not in body
    assert body["text"].startswith(":hourglass: Still down for 1h 30m: heartbeat *db-backup*")


def test_resolve_without_thread_ref_is_posted_top_level(channel, slack, note):
    assert channel.send(note("resolve", channel="slack", reason="recovered")).delivered
    body = slack.requests[0].json
    assert "thread_ts" not in body and "reply_broadcast" not in body


def _mrkdwn(node) -> list[str]:
    """Every mrkdwn text object in a block tree (plain_text is never parsed by Slack)."""
    if isinstance(node, list):
        return [t for item in node for t in _mrkdwn(item)]
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for value in node.values() if isinstance(value, (dict, list)) for t in _mrkdwn(value)]
    return []


def test_user_text_is_escaped(channel, slack, note):
    channel.send(note("trigger", channel="slack", service_name="<!channel> & co", runbook="https://x.test/a|b>c"))
    body = slack.requests[0].json
    texts = [body["text"], *_mrkdwn(body["blocks"])]
    assert len(texts) > 5
    text = "\n".join(texts)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; co" in text
    assert "<https://x.test/a%7Cb%3Ec|Runbook>" in text


def test_links_left_out_when_absent(channel, slack, note):
    channel.send(note("trigger", channel="slack", runbook=None, medic_url=None))
    assert all(block["type"] != "context" for block in slack.requests[0].json["blocks"])


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "invalid_auth", "is_archived"])
def test_ok_false_errors_are_permanent(channel, slack, note, code):
    slack.queue(Response(200, {"ok": False, "error": code}))
    result = channel.send(note("trigger", channel="slack"))
    assert result.outcome == "permanent"
    assert code in result.error


def test_missing_channel_is_permanent_against_realistic_fake(slack, note):
    # The fake answers like Slack does; no scripted reply involved.
    channel = SlackChannel(SLACK_TOKEN, "", api_url=slack.endpoint, timeout=2)
    result = channel.send(note("trigger", channel="slack"))
    assert result == DeliveryResult("permanent", error="Slack HTTP 200: channel_not_found")


def test_wrong_token_is_permanent_and_token_not_leaked(note):
    with fake_slack(token="xoxb-the-right-one") as provider:
        channel = SlackChannel(SLACK_TOKEN, SLACK_CHANNEL, api_url=provider.endpoint, timeout=2)
        result = channel.send(note("trigger", channel="slack"))
    assert result.outcome == "permanent"
    assert "invalid_auth" in result.error
    assert SLACK_TOKEN not in result.error


@pytest.mark.parametrize("code", ["ratelimited", "internal_error", "service_unavailable", "fatal_error"])
def test_transient_ok_false_errors_retry(channel, slack, note, code):
    slack.queue(Response(200, {"ok": False, "error": code}))
    assert channel.send(note("trigger", channel="slack")).outcome == "retry"


def test_http_429_with_retry_after_is_retried_once(channel, slack, note):
    slack.queue(Response(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "7"}))
    result = channel.send(note("trigger", channel="slack"))
    assert (result.outcome, result.retry_after) == ("retry", 7.0)
    # slack_sdk's own retry handlers are off: the outbox schedules the retry.
    assert len(slack.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        Response(500, {"ok": False, "error": "internal_error"}),
        Response(502, body=b"<html>Bad Gateway</html>", headers={"Content-Type": "text/html"}),
        Response(503, body=b""),
        Response(200, body=b"<html>captive portal</html>", headers={"Content-Type": "text/html"}),
    ],
)
def test_server_errors_and_non_json_answers_retry_once(channel, slack, note, reply):
    slack.queue(reply)
    assert channel.send(note("trigger", channel="slack")).outcome == "retry"
    assert len(slack.requests) == 1


def test_400_is_permanent(channel, slack, note):
    slack.queue(Response(400, {"ok": False, "error": "invalid_arguments"}))
    result = channel.send(note("trigger", channel="slack"))
    assert result.outcome == "permanent"
    assert result.error == "Slack HTTP 400: invalid_arguments"


def test_timeout_is_retried(slack, note):
    channel = SlackChannel(SLACK_TOKEN, SLACK_CHANNEL, api_url=slack.endpoint, timeout=0.5)
    slack.queue(Response(200, {"ok": True, "ts": "1.1"}, delay=3))
    started = time.monotonic()
    result = channel.send(note("trigger", channel="slack"))
    assert result.outcome == "retry"
    assert time.monotonic() - started < 2
    assert len(slack.requests) == 1


def test_connection_refused_is_retried(closed_port, note):
    channel = SlackChannel(SLACK_TOKEN, SLACK_CHANNEL, api_url=f"http://127.0.0.1:{closed_port}/api", timeout=2)
    result = channel.send(note("trigger", channel="slack"))
    assert result.outcome == "retry"
    assert SLACK_TOKEN not in result.error


def test_dropped_connection_is_retried_once(channel, slack, note):
    slack.queue(Response(drop=True))
    assert channel.send(note("trigger", channel="slack")).outcome == "retry"
    assert len(slack.requests) == 1


def test_api_url_without_trailing_slash(slack, note):
    channel = SlackChannel(SLACK_TOKEN, SLACK_CHANNEL, api_url=slack.url + "/api", timeout=2)
    assert channel.send(note("trigger", channel="slack")).delivered
    assert slack.requests[0].path == "/api/chat.postMessage"


def test_token_never_in_error_even_if_echoed(channel, slack, note):
    slack.queue(Response(200, body=f"oops token {SLACK_TOKEN}".encode(), headers={"Content-Type": "text/plain"}))
    result = channel.send(note("trigger", channel="slack"))
    assert result.outcome == "retry"
    assert result.error and SLACK_TOKEN not in result.error


# -- re-sends after a crash: look for the earlier attempt first -----------------


def _posts(provider) -> list:
    return [r for r in provider.requests if r.path.endswith("/chat.postMessage")]


def test_every_message_carries_the_notification_id_in_its_metadata(channel, slack, note):
    channel.send(note("trigger", channel="slack"))
    [post] = _posts(slack)
    assert post.json["metadata"] == {
        "event_type": "medic_notification",
        "event_payload": {"notification_id": "1001", "kind": "trigger"},
    }


def test_a_reclaimed_trigger_already_posted_is_not_posted_again(channel, slack, note):
    first = channel.send(note("trigger", channel="slack"))  # the attempt of a worker that then died
    again = channel.send(dataclasses.replace(note("trigger", channel="slack"), reclaimed=True))
    assert len(_posts(slack)) == 1
    assert again.outcome == "delivered" and again.already_delivered
    assert again.provider_ref == first.provider_ref
    [lookup] = [r for r in slack.requests if "conversations.history" in r.path]
    assert lookup.form["include_all_metadata"] in ("1", "true")


def test_a_reclaimed_resolve_is_looked_for_in_the_alert_thread(channel, slack, note):
    trigger = channel.send(note("trigger", channel="slack")).provider_ref
    resolve = dataclasses.replace(note("resolve", channel="slack", thread_ref=trigger), id=1002)
    posted = channel.send(resolve)
    again = channel.send(dataclasses.replace(resolve, reclaimed=True))
    assert again.already_delivered and again.provider_ref == posted.provider_ref
    assert len(_posts(slack)) == 2
    assert any("conversations.replies" in r.path and r.form["ts"] == trigger for r in slack.requests)


def test_a_reclaimed_notification_never_posted_is_posted(channel, slack, note):
    channel.send(dataclasses.replace(note("trigger", channel="slack"), id=7))  # another notification
    result = channel.send(dataclasses.replace(note("trigger", channel="slack"), reclaimed=True))
    assert result.outcome == "delivered" and not result.already_delivered
    assert len(_posts(slack)) == 2


def test_without_the_history_scope_a_reclaimed_message_is_sent_again_and_said_so(make_settings, note, caplog):
    with fake_slack(history_scope=False) as provider:
        settings = make_settings(
            slack_api_token=SLACK_TOKEN, slack_channel_id=SLACK_CHANNEL, slack_api_url=provider.endpoint
        )
        channel = SlackChannel.from_settings(settings)
        channel.send(note("trigger", channel="slack"))
        result = channel.send(dataclasses.replace(note("trigger", channel="slack"), reclaimed=True))
        assert result.outcome == "delivered" and not result.already_delivered
        assert len(_posts(provider)) == 2  # the duplicate the docs warn about
    [warning] = [r.getMessage() for r in caplog.records if "earlier attempt" in r.getMessage()]
    assert "missing_scope" in warning and "channels:history" in warning and SLACK_TOKEN not in warning
