"""The interface every notification channel implements, and shared helpers.

A channel turns one outbox row (a `Notification`) into one provider request and
classifies the answer into a `DeliveryResult`; the outbox dispatcher owns retries.
Channels do not raise for provider or network problems (timeouts, refused
connections, error statuses, unexpected bodies): they return "retry" or
"permanent". An exception escaping `send` is a bug in Medic, not a provider
failure.

Classification, shared by all channels:
  2xx                               -> "delivered"
  timeouts, connection errors,
  5xx, 408, 429                     -> "retry" (Retry-After honoured on 429/503)
  any other status                  -> "permanent"
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

from medic.core.model import REASON_TEXT, ChannelName, DeliveryOutcome

Outcome = DeliveryOutcome

# The channel names (core.model.ChannelName), under the names channels import.
PAGERDUTY = ChannelName.PAGERDUTY
SLACK = ChannelName.SLACK
WEBHOOK = ChannelName.WEBHOOK
EMAIL = ChannelName.EMAIL
APPRISE = ChannelName.APPRISE
CHANNEL_NAMES: tuple[str, ...] = tuple(ChannelName)

MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Notification:
    id: int  # outbox row id
    channel: str  # a ChannelName
    kind: str  # a NotificationKind
    payload: dict = field(hash=False)  # the alert event written by the worker
    thread_ref: str | None = None  # provider ref of this alert's trigger on this channel
    reclaimed: bool = False  # an earlier attempt's claim expired mid-send (now or on an earlier try): it may have gone out


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    provider_ref: str | None = None  # e.g. Slack message ts, PagerDuty dedup_key
    retry_after: float | None = None  # seconds, from Retry-After on 429/503
    error: str | None = None  # short reason, never containing secrets
    already_delivered: bool = False  # a reclaimed send found its earlier attempt at the provider

    @property
    def delivered(self) -> bool:
        return self.outcome == DeliveryOutcome.DELIVERED


@runtime_checkable
class Channel(Protocol):
    name: str

    def send(self, notification: Notification) -> DeliveryResult: ...


def reason_text(reason: str | None) -> str:
    if not reason:
        return "unknown reason"
    return REASON_TEXT.get(reason, reason.replace("_", " "))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date.

    Returns None when the header is absent or unparseable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # float() accepts "nan"/"inf", which no scheduler can use.
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def classify_status(
    status: int, headers: Mapping[str, str] | None = None, *, error: str | None = None
) -> DeliveryResult:
    """Map an HTTP status to an outcome. `headers` must allow case-insensitive get."""
    if 200 <= status < 300:
        return DeliveryResult(DeliveryOutcome.DELIVERED)
    retry_after = None
    if status in (429, 503) and headers is not None:
        retry_after = parse_retry_after(header_value(headers, "Retry-After"))
    message = f"HTTP {status}" + (f": {error}" if error else "")
    if status >= 500 or status in (408, 429):
        return DeliveryResult(DeliveryOutcome.RETRY, retry_after=retry_after, error=message)
    return DeliveryResult(DeliveryOutcome.PERMANENT, error=message)


def header_value(headers: Mapping[str, Any], name: str) -> str | None:
    """A header's value from any mapping, looked up case-insensitively."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                value = candidate
                break
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value)


def safe_error(text: object, secrets: Iterable[str | None] = ()) -> str:
    """A short, single-line error message with every known secret masked."""
    message = " ".join(str(text).split())
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "***")
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3] + "..."
    return message


def exception_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    detail = str(exc)
    name = type(exc).__name__
    return safe_error(f"{name}: {detail}" if detail else name, secrets)


def parse_time(value: object) -> datetime | None:
    """Parse an ISO 8601 payload time; None when missing or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_duration(seconds: float) -> str:
    """'3d 4h', '2h 5m', '7m', '40s': compact enough for a chat line."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def down_for(payload: Mapping[str, Any], until_key: str) -> str | None:
    """How long the alert was open, from its payload ("2h 5m"); None when unknown."""
    opened = parse_time(payload.get("opened_at"))
    until = parse_time(payload.get(until_key)) or parse_time(payload.get("occurred_at"))
    if opened is None or until is None:
        return None
    return format_duration((until - opened).total_seconds())


def flapping_words(payload: Mapping[str, Any]) -> str:
    """What a flapping notice says, after the service's words (docs/alerting.md, "Flapping")."""
    changes, minutes = payload.get("flap_changes") or "many", payload.get("flap_minutes") or "?"
    return (f"changed state {changes} times in {minutes} min; its pages are paused until it has been "
            f"stable for {minutes} min, then its state is reported")


def service_words(payload: Mapping[str, Any]) -> str:
    """'heartbeat billing-hb of service billing', for channels that send plain text."""
    return f"heartbeat {payload.get('heartbeat_name') or '?'} of service {payload.get('service_name') or '?'}"
