"""Slack Web API `chat.postMessage` through the official slack_sdk.

The trigger is a top-level message in SLACK_CHANNEL_ID; its `ts` is returned as the
provider_ref so the worker can store it and hand it back as `thread_ref` for the
alert's later messages. Reminders and the recovery are posted in that thread; the
recovery is also broadcast to the channel so nobody misses it. Without a thread_ref
they are posted top-level rather than lost.

Every message carries Medic's notification id in its message metadata
(event type ``medic_notification``). When a worker died mid-send and the row is
sent again (``Notification.reclaimed``), the channel's recent history (or the
alert's thread) is searched for that id first, and a message already posted is
recorded instead of posted twice. That needs the ``channels:history`` scope
(``groups:history`` for a private channel); without it the message is sent again
and may be duplicated, one message per send that was in flight.

slack_sdk's own retry handlers are disabled: the outbox owns retries, and a retry
loop inside `send` would hold a dispatcher slot and hide failures from it.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import re
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from medic.config import Settings
from medic.core.model import DeliveryOutcome, NotificationKind
from medic.notify.base import (
    SLACK,
    DeliveryResult,
    Notification,
    classify_status,
    down_for,
    flapping_words,
    exception_error,
    header_value,
    parse_retry_after,
    reason_text,
    safe_error,
)

log = logging.getLogger("medic.notify.slack")

# Slack `ok: false` error codes that describe a transient server-side condition.
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_ERROR_CODE = re.compile(r"^[a-z0-9_.]+$")

METADATA_EVENT = "medic_notification"
HISTORY_LIMIT = 200  # how far back a re-send looks for its earlier attempt

MAX_FIELD_CHARS = 300
MAX_TEXT_CHARS = 2900  # section text limit is 3000
MAX_HEADER_CHARS = 150  # header block limit


def _escape(value: object) -> str:
    """Escape the three characters Slack mrkdwn treats as control characters."""
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: object, label: str) -> str | None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    # '|' and '>' would end the <url|label> token early.
    safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{label}>"


def _subject(payload: dict, capital: bool = False) -> str:
    heartbeat = _escape(payload.get("heartbeat_name") or "?")
    service = _escape(payload.get("service_name") or "?")
    return f"{'H' if capital else 'h'}eartbeat *{heartbeat}* of service *{service}*"


def _links_block(payload: dict) -> dict | None:
    links = [
        link
        for link in (_link(payload.get("runbook"), "Runbook"), _link(payload.get("medic_url"), "Open in Medic"))
        if link
    ]
    if not links:
        return None
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "  ·  ".join(links)}]}


def trigger_message(payload: dict) -> tuple[str, list[dict]]:
    priority = str(payload.get("priority") or "?").upper()
    reason = reason_text(payload.get("reason"))
    text = _clip(f":rotating_light: [{priority}] {_subject(payload, capital=True)}: {_escape(reason)}", MAX_TEXT_CHARS)
    header = _clip(f"🚨 {payload.get('service_name') or '?'} is down ({priority})", MAX_HEADER_CHARS)

    def field(label: str, value: object) -> dict:
        shown = _escape(value) if value not in (None, "") else "—"
        return {"type": "mrkdwn", "text": _clip(f"*{label}*\n{shown}", MAX_FIELD_CHARS)}

    expects = None
    if payload.get("threshold") is not None and payload.get("alert_interval") is not None:
        expects = f"{payload['threshold']} heartbeat(s) every {payload['alert_interval']} min"
    fields = [
        field("Service", payload.get("service_name")),
        field("Heartbeat", payload.get("heartbeat_name")),
        field("Team", payload.get("team")),
        field("Priority", priority),
        field("Reason", reason),
        field("Expects", expects),
        field("Last heartbeat", payload.get("last_heartbeat_at") or "never"),
        field("Opened", payload.get("opened_at")),
    ]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "section", "fields": fields},
    ]
    affected = affected_text(payload)
    if affected:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": affected}})
    links = _links_block(payload)
    if links:
        blocks.append(links)
    return text, blocks


def affected_text(payload: dict) -> str | None:
    """The services whose alerts this one suppressed (docs/alerting.md, "Dependencies")."""
    names = payload.get("affected") or []
    if not names:
        return None
    shown = ", ".join(f"*{_escape(name)}*" for name in names)
    return _clip(f"Also down, depending on it (suppressed, not paged): {shown}", MAX_TEXT_CHARS)


def resolve_message(payload: dict) -> tuple[str, list[dict]]:
    duration = down_for(payload, "closed_at")
    after = f" after {duration}" if duration else ""
    if payload.get("reason") == "deactivated":
        service = _escape(payload.get("service_name") or "?")
        text = f":white_check_mark: Resolved: service *{service}* was deactivated; its alert was closed{after}."
    else:
        text = f":white_check_mark: Recovered{after}: {_subject(payload)} is sending heartbeats again."
    return _simple(text, payload)


def reminder_message(payload: dict) -> tuple[str, list[dict]]:
    duration = down_for(payload, "occurred_at")
    since = f" for {duration}" if duration else ""
    text = f":hourglass: Still down{since}: {_subject(payload)} ({_escape(reason_text(payload.get('reason')))})."
    return _simple(text, payload)


def flapping_message(payload: dict) -> tuple[str, list[dict]]:
    return _simple(f":warning: Flapping: {_subject(payload)} {_escape(flapping_words(payload))}.", payload)


def _simple(text: str, payload: dict) -> tuple[str, list[dict]]:
    text = _clip(text, MAX_TEXT_CHARS)
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    links = _links_block(payload)
    if links:
        blocks.append(links)
    return text, blocks


def note_message(payload: dict) -> tuple[str, list[dict]]:
    """In the alert's thread: services suppressed by it after its message was posted."""
    return _simple(f":link: {affected_text(payload) or 'Also down, depending on it.'}", payload)


MESSAGE_BUILDERS = {
    NotificationKind.TRIGGER: trigger_message,
    NotificationKind.RESOLVE: resolve_message,
    NotificationKind.REMINDER: reminder_message,
    NotificationKind.NOTE: note_message,
    NotificationKind.FLAPPING: flapping_message,
}


class SlackChannel:
    name = SLACK

    def __init__(
        self,
        token: str,
        channel_id: str,
        api_url: str = "https://slack.com/api/",
        timeout: float = 10.0,
        client: WebClient | None = None,
    ) -> None:
        self._token = token
        self._channel_id = channel_id
        if not api_url.endswith("/"):
            api_url += "/"
        self._client = client or WebClient(token=token, base_url=api_url, timeout=timeout, retry_handlers=[])

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackChannel:
        if not (settings.slack_api_token and settings.slack_channel_id):
            raise ValueError("SLACK_API_TOKEN and SLACK_CHANNEL_ID must both be set")
        return cls(
            settings.slack_api_token,
            settings.slack_channel_id,
            api_url=settings.slack_api_url,
            timeout=settings.notify_timeout_seconds,
        )

    def close(self) -> None:
        """Nothing to release: slack_sdk opens one connection per request."""

    def send(self, notification: Notification) -> DeliveryResult:
        builder = MESSAGE_BUILDERS.get(notification.kind)
        if builder is None:
            return DeliveryResult(DeliveryOutcome.PERMANENT, error=f"unknown notification kind {notification.kind!r}")
        text, blocks = builder(notification.payload)
        kwargs: dict[str, Any] = {
            "channel": self._channel_id,
            "text": text,
            "blocks": blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if notification.kind != NotificationKind.TRIGGER and notification.thread_ref:
            kwargs["thread_ts"] = notification.thread_ref
            if notification.kind in (NotificationKind.RESOLVE, NotificationKind.FLAPPING):
                kwargs["reply_broadcast"] = True
        kwargs["metadata"] = {
            "event_type": METADATA_EVENT,
            "event_payload": {"notification_id": str(notification.id), "kind": notification.kind},
        }

        if notification.reclaimed:
            earlier = self._find_posted(notification)
            if earlier is not None:
                return DeliveryResult(DeliveryOutcome.DELIVERED, provider_ref=earlier, already_delivered=True)

        try:
            response = self._client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            return self._classify_api_error(exc)
        except (OSError, http.client.HTTPException) as exc:
            # URLError, timeouts, refused or reset connections, truncated responses.
            return DeliveryResult(DeliveryOutcome.RETRY, error=exception_error(exc, self._secrets()))
        except SlackClientError as exc:
            # Invalid URL or proxy: configuration, not a passing condition.
            return DeliveryResult(DeliveryOutcome.PERMANENT, error=exception_error(exc, self._secrets()))

        ts = response.get("ts")
        return DeliveryResult(DeliveryOutcome.DELIVERED, provider_ref=str(ts) if ts else None)

    def _find_posted(self, notification: Notification) -> str | None:
        """The ts of a message this notification already posted, if Slack shows one.

        Any failure to look (no history scope, not in the channel, Slack down) means
        "not found": sending again risks a duplicate, never a lost message.
        """
        try:
            if notification.thread_ref:
                response = self._client.conversations_replies(
                    channel=self._channel_id, ts=notification.thread_ref, include_all_metadata=True,
                    limit=HISTORY_LIMIT,
                )
            else:
                response = self._client.conversations_history(
                    channel=self._channel_id, include_all_metadata=True, limit=HISTORY_LIMIT
                )
        except SlackApiError as exc:
            data = getattr(exc.response, "data", None)
            code = data.get("error") if isinstance(data, dict) else None
            needed = data.get("needed") if isinstance(data, dict) else None
            log.warning(
                "cannot check Slack for an earlier attempt of notification %s (%s%s); sending it again, "
                "which may duplicate the message",
                notification.id, code or "error", f", needs scope {needed}" if needed else "",
            )
            return None
        except (OSError, http.client.HTTPException, SlackClientError) as exc:
            log.warning(
                "cannot check Slack for an earlier attempt of notification %s (%s); sending it again",
                notification.id, exception_error(exc, self._secrets()),
            )
            return None
        wanted = str(notification.id)
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT and str(payload.get("notification_id")) == wanted:
                return str(message.get("ts")) if message.get("ts") else None
        return None

    def _secrets(self) -> tuple[str, ...]:
        return (self._token,)

    def _classify_api_error(self, exc: SlackApiError) -> DeliveryResult:
        response = exc.response
        status = getattr(response, "status_code", None) or 0
        headers = dict(getattr(response, "headers", None) or {})
        data = getattr(response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        code = str(code) if code else None
        error = safe_error(f"Slack HTTP {status}" + (f": {code}" if code else ""), self._secrets())
        if status != 200:  # HTTP itself failed: the shared classification, Retry-After included
            return dataclasses.replace(classify_status(status, headers), error=error)
        # 200 with ok: false: Slack's own error codes.
        if code in RETRYABLE_ERRORS:
            retry_after = parse_retry_after(header_value(headers, "Retry-After"))
            return DeliveryResult(DeliveryOutcome.RETRY, retry_after=retry_after, error=error)
        if code is None or not _ERROR_CODE.match(code):
            # A 200 without a Slack JSON answer comes from something in between (a
            # proxy, a captive portal): the message was not posted; try again.
            return DeliveryResult(DeliveryOutcome.RETRY, error=error)
        return DeliveryResult(DeliveryOutcome.PERMANENT, error=error)
