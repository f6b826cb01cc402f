"""Notification channels: PagerDuty, Slack, a generic webhook, email and Apprise.

`build_channels` returns only the configured channels; an unconfigured channel
is skipped (and shown as such by `channel_status` in /health), not an error.
"""

from __future__ import annotations

from medic.config import Settings
from medic.notify.base import (
    APPRISE,
    CHANNEL_NAMES,
    EMAIL,
    PAGERDUTY,
    SLACK,
    WEBHOOK,
    Channel,
    DeliveryResult,
    Notification,
    parse_retry_after,
)

__all__ = [
    "APPRISE",
    "CHANNEL_NAMES",
    "EMAIL",
    "PAGERDUTY",
    "SLACK",
    "WEBHOOK",
    "Channel",
    "DeliveryResult",
    "Notification",
    "build_channels",
    "channel_status",
    "close_channels",
    "parse_retry_after",
]


def channel_status(settings: Settings) -> dict[str, bool]:
    """Whether each channel is configured, keyed by channel name."""
    return {
        PAGERDUTY: settings.pagerduty_configured,
        SLACK: settings.slack_configured,
        WEBHOOK: settings.webhook_configured,
        EMAIL: settings.email_configured,
        APPRISE: settings.apprise_configured,
    }


def build_channels(settings: Settings) -> dict[str, Channel]:
    """One channel object per configured channel, keyed by channel name."""
    # Imported here so importing medic.notify (e.g. for /health) stays cheap.
    from medic.notify.pagerduty import PagerDutyChannel
    from medic.notify.slack import SlackChannel
    from medic.notify.apprise import AppriseChannel
    from medic.notify.email import EmailChannel
    from medic.notify.webhook import WebhookChannel

    channels: dict[str, Channel] = {}
    if settings.pagerduty_configured:
        channels[PAGERDUTY] = PagerDutyChannel.from_settings(settings)
    if settings.slack_configured:
        channels[SLACK] = SlackChannel.from_settings(settings)
    if settings.webhook_configured:
        channels[WEBHOOK] = WebhookChannel.from_settings(settings)
    if settings.email_configured:
        channels[EMAIL] = EmailChannel.from_settings(settings)
    if settings.apprise_configured:
        channels[APPRISE] = AppriseChannel.from_settings(settings)
    return channels


def close_channels(channels: dict[str, Channel]) -> None:
    """Release HTTP connection pools held by channels (safe to call twice)."""
    for channel in channels.values():
        close = getattr(channel, "close", None)
        if callable(close):
            close()
