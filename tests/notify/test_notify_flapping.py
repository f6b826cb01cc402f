"""The flapping notice on every channel that gets one (docs/alerting.md, "Flapping"),
and PagerDuty, which gets none."""

from __future__ import annotations

from medic.core.model import ChannelName, NotificationKind, channel_receives
from medic.notify import apprise, email, slack
from medic.notify.base import flapping_words

FLAP = {"flapping": True, "flap_changes": 7, "flap_minutes": 60}


def test_the_words_say_how_often_and_for_how_long(payload):
    words = flapping_words({**payload, **FLAP})
    assert "7 times in 60 min" in words and "paused" in words


def test_every_chat_channel_renders_it_and_pagerduty_is_never_sent_one(payload):
    flapping = {**payload, **FLAP, "event": "flapping"}
    text, blocks = slack.MESSAGE_BUILDERS[NotificationKind.FLAPPING](flapping)
    assert text.startswith(":warning: Flapping") and "7 times in 60 min" in text and blocks
    assert email.headline(NotificationKind.FLAPPING, flapping).startswith("FLAPPING: heartbeat db-backup")
    assert apprise.title_for(NotificationKind.FLAPPING, flapping).startswith("[Medic] FLAPPING (P1)")
    assert "7 times in 60 min" in apprise.body_for(NotificationKind.FLAPPING, flapping)
    assert apprise.NOTIFY_TYPES[NotificationKind.FLAPPING]
    assert not channel_receives(ChannelName.PAGERDUTY, NotificationKind.FLAPPING)
    assert all(channel_receives(c, NotificationKind.FLAPPING) for c in ChannelName if c != ChannelName.PAGERDUTY)


def test_slack_posts_it_in_the_alerts_thread_and_to_the_channel(note, slack):
    from medic.notify.slack import SlackChannel

    channel = SlackChannel("xoxb-test", "C1", api_url=slack.endpoint, timeout=2)
    result = channel.send(note("flapping", "slack", thread_ref="1767614400.000042", **FLAP))
    assert result.outcome == "delivered", result
    [request] = slack.requests
    assert request.data["thread_ts"] == "1767614400.000042" and request.data["reply_broadcast"] is True

