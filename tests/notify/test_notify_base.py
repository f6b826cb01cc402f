from __future__ import annotations

import email.utils

import pytest
from pydantic import SecretStr

from medic.notify import Channel, DeliveryResult, build_channels, channel_status, close_channels
from medic.notify.base import classify_status, format_duration, parse_retry_after, safe_error
from medic.notify.apprise import AppriseChannel
from medic.notify.email import EmailChannel
from medic.notify.pagerduty import PagerDutyChannel
from medic.notify.slack import SlackChannel
from medic.notify.webhook import WebhookChannel

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header, expected):
    assert parse_retry_after(header, now=NOW) == expected


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(status):
    assert classify_status(status, {}) == DeliveryResult("delivered")


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_5xx_408_429_retry(status):
    result = classify_status(status, {})
    assert result.outcome == "retry"
    assert result.error == f"HTTP {status}"


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 410, 413, 422])
def test_other_statuses_are_permanent(status):
    assert classify_status(status, {}).outcome == "permanent"


def test_retry_after_read_case_insensitively_on_429_and_503_only():
    assert classify_status(429, {"retry-after": "7"}).retry_after == 7
    assert classify_status(503, {"Retry-After": "3"}).retry_after == 3
    assert classify_status(500, {"Retry-After": "3"}).retry_after is None


def test_safe_error_masks_secrets_and_stays_short():
    message = safe_error("token=abcd-SECRET\nfailed " + "x" * 1000, ["abcd-SECRET", None, ""])
    assert "abcd-SECRET" not in message
    assert "***" in message
    assert "\n" not in message
    assert len(message) <= 300


def test_format_duration():
    assert [format_duration(s) for s in (40, 420, 7500, 277200)] == ["40s", "7m", "2h 5m", "3d 5h"]


def test_nothing_configured_means_no_channels(make_settings):
    settings = make_settings()
    assert build_channels(settings) == {}
    assert channel_status(settings) == {"pagerduty": False, "slack": False, "webhook": False, "email": False, "apprise": False}


def test_build_channels_returns_only_configured_ones(make_settings):
    settings = make_settings(
        pagerduty_routing_key="rk",
        slack_api_token="xoxb-1",  # no channel id: Slack is not configured
        webhook_url="http://127.0.0.1:9/hook",
    )
    channels = build_channels(settings)
    try:
        assert sorted(channels) == ["pagerduty", "webhook"]
        assert isinstance(channels["pagerduty"], PagerDutyChannel)
        assert isinstance(channels["webhook"], WebhookChannel)
        assert channel_status(settings) == {"pagerduty": True, "slack": False, "webhook": True, "email": False, "apprise": False}
    finally:
        close_channels(channels)


def test_build_channels_all_configured(make_settings):
    settings = make_settings(
        pagerduty_routing_key="rk",
        slack_api_token="xoxb-1",
        slack_channel_id="C1",
        webhook_url="http://127.0.0.1:9/hook",
        smtp_host="127.0.0.1",
        smtp_from="medic@example.com",
        smtp_to="oncall@example.com",
        apprise_url=SecretStr("json://127.0.0.1:9/hook"),
    )
    channels = build_channels(settings)
    try:
        assert sorted(channels) == ["apprise", "email", "pagerduty", "slack", "webhook"]
        assert isinstance(channels["apprise"], AppriseChannel)
        assert isinstance(channels["slack"], SlackChannel)
        assert isinstance(channels["email"], EmailChannel)
        for name, channel in channels.items():
            assert channel.name == name
            assert isinstance(channel, Channel)
        assert all(channel_status(settings).values())
    finally:
        close_channels(channels)
