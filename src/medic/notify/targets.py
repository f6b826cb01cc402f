"""A channel for one route target (docs/routing.md): the target's own fields, and
the deployment's settings for everything a target does not carry (PagerDuty's
events URL, Slack's API token unless the target has one, the SMTP server, the
send timeout)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from medic.config import Settings
from medic.notify.base import APPRISE, EMAIL, PAGERDUTY, SLACK, WEBHOOK, Channel


class TargetUnusable(Exception):
    """The deployment lacks what this target needs (e.g. SMTP_HOST for an email target)."""


def _pagerduty(fields: Mapping[str, Any], settings: Settings) -> Channel:
    from medic.notify.pagerduty import PagerDutyChannel

    return PagerDutyChannel(fields["routing_key"], settings.pagerduty_events_url, timeout=settings.notify_timeout_seconds)


def _slack(fields: Mapping[str, Any], settings: Settings) -> Channel:
    from medic.notify.slack import SlackChannel

    token = fields.get("token") or settings.slack_api_token
    if not token:
        raise TargetUnusable("a Slack target needs SLACK_API_TOKEN (or its own token)")
    return SlackChannel(token, fields["channel"], api_url=settings.slack_api_url, timeout=settings.notify_timeout_seconds)


def _webhook(fields: Mapping[str, Any], settings: Settings) -> Channel:
    from medic.notify.webhook import WebhookChannel

    return WebhookChannel(fields["url"], fields.get("secret"), timeout=settings.notify_timeout_seconds)


def _email(fields: Mapping[str, Any], settings: Settings) -> Channel:
    from medic.notify.email import EmailChannel

    if not (settings.smtp_host and settings.smtp_from):
        raise TargetUnusable("an email target needs SMTP_HOST and SMTP_FROM")
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return EmailChannel(
        settings.smtp_host, settings.smtp_from, fields["to"], port=settings.smtp_port, tls=settings.smtp_tls,
        username=settings.smtp_user, password=password, timeout=settings.notify_timeout_seconds,
    )


def _apprise(fields: Mapping[str, Any], settings: Settings) -> Channel:
    from medic.notify.apprise import AppriseChannel

    return AppriseChannel(fields["url"], timeout=settings.notify_timeout_seconds)


BUILDERS: dict[str, Callable[[Mapping[str, Any], Settings], Channel]] = {
    PAGERDUTY: _pagerduty,
    SLACK: _slack,
    WEBHOOK: _webhook,
    EMAIL: _email,
    APPRISE: _apprise,
}


def build_target_channel(kind: str, fields: Mapping[str, Any], settings: Settings) -> Channel:
    builder = BUILDERS.get(kind)
    if builder is None:
        raise TargetUnusable(f"unknown target type {kind!r}")
    return builder(fields, settings)
