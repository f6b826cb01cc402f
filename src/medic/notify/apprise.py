"""Apprise: one channel for the ~100 services Apprise speaks to (Opsgenie, Microsoft
Teams, Discord, Telegram, ntfy, Pushover, Mattermost, Rocket.Chat, JSON and form
webhooks...), each named by an Apprise URL. APPRISE_URL may hold several URLs
(separated by spaces or commas); each one is a target.

Apprise is synchronous and reports per target whether it succeeded. Classification:
  every target accepted                                  -> "delivered"
  a target timed out, could not connect, or its service
  answered 5xx, 408 or 429 (Apprise's "error=<code>")    -> "retry"
  a target's service answered another 4xx (a revoked
  token, a deleted channel), or Apprise refused the
  message itself                                          -> "permanent"
With several targets, the targets that already accepted a notification are not
sent it again when it is retried by the same worker process, and a notification
is "permanent" only when no failing target can still succeed. Apprise cannot
tell whether an earlier attempt went out, so a worker killed mid-send (or a
restart between retries) sends to every target again.

The URLs hold tokens: they never appear in an error, a log line or the outbox.
Apprise's own log lines (which can contain them) are kept out of Medic's logs;
only the service's name, the target's position and the HTTP status are reported.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Iterable
from urllib.parse import unquote, urlsplit

import apprise
from apprise.result import AppriseResultStatus
from apprise.utils.parse import parse_urls

from medic.core.model import DeliveryOutcome, NotificationKind
from medic.notify.base import (
    APPRISE,
    DeliveryResult,
    Notification,
    down_for,
    flapping_words,
    reason_text,
    safe_error,
    service_words,
)

if TYPE_CHECKING:  # medic.config imports this module to check APPRISE_URL
    from medic.config import Settings

# Apprise logs target URLs (tokens included) at debug level and some hosts at
# warning level; its records are captured per send instead of reaching Medic's logs.
logging.getLogger("apprise").propagate = False

log = logging.getLogger("medic.notify.apprise")

_STATUS = re.compile(r"\berror=(\d{3})\b")
MAX_TRACKED = 10_000  # notifications whose partial progress is remembered
MAX_BODY_CHARS = 4000


def split_urls(value: str | Iterable[str]) -> list[str]:
    """The URLs of APPRISE_URL (spaces or commas between them, as Apprise reads them)."""
    items = [value] if isinstance(value, str) else list(value)
    return [url for url in parse_urls(*items) if url]


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep and scheme.isascii() and scheme.replace("+", "").isalnum() else "?"


def check_urls(value: str | Iterable[str]) -> list[str]:
    """The URLs, each one checked to be one Apprise supports. The ValueError names
    the entry by position and scheme only, never the URL (it holds tokens)."""
    urls = split_urls(value)
    if not urls:
        raise ValueError("no Apprise URL given")
    for position, url in enumerate(urls, 1):
        if apprise.Apprise.instantiate(url) is None:
            raise ValueError(
                f"entry {position} of {len(urls)} ({_scheme(url)}://...) is not a URL Apprise supports or is malformed"
            )
    return urls


def _secret_parts(url: str) -> list[str]:
    """Every piece of a URL that may be a credential, for masking."""
    parts = [url, unquote(url)]
    try:
        split = urlsplit(url)
    except ValueError:
        return parts
    parts += [split.netloc, split.username or "", split.password or "", split.hostname or "", split.query]
    parts += [segment for segment in split.path.split("/") if segment]
    parts += [value for pair in split.query.split("&") for value in pair.split("=")[1:]]
    return [part for part in parts if part and len(part) >= 4]


# -- the message ---------------------------------------------------------------

NOTIFY_TYPES = {
    NotificationKind.TRIGGER: apprise.NotifyType.FAILURE,
    NotificationKind.REMINDER: apprise.NotifyType.WARNING,
    NotificationKind.RESOLVE: apprise.NotifyType.SUCCESS,
    NotificationKind.FLAPPING: apprise.NotifyType.WARNING,
}


def title_for(kind: str, payload: dict) -> str:
    priority = str(payload.get("priority") or "?").upper()
    if kind == NotificationKind.TRIGGER:
        title = f"[Medic] DOWN ({priority}): {service_words(payload)}"
    elif kind == NotificationKind.RESOLVE:
        title = f"[Medic] RESOLVED: {service_words(payload)}"
    elif kind == NotificationKind.FLAPPING:
        title = f"[Medic] FLAPPING ({priority}): {service_words(payload)}"
    else:
        title = f"[Medic] STILL DOWN ({priority}): {service_words(payload)}"
    return " ".join(title.split())[:250]


def body_for(kind: str, payload: dict) -> str:
    if kind == NotificationKind.TRIGGER:
        lines = [f"{service_words(payload).capitalize()}: {reason_text(payload.get('reason'))}."]
        lines.append(f"Last heartbeat: {payload.get('last_heartbeat_at') or 'never'}")
        if payload.get("affected"):  # services depending on it, suppressed (docs/alerting.md)
            lines.append("Also down (suppressed): " + ", ".join(map(str, payload["affected"])))
    elif kind == NotificationKind.RESOLVE:
        duration = down_for(payload, "closed_at")
        after = f" after {duration}" if duration else ""
        if payload.get("reason") == "deactivated":
            lines = [f"Service {payload.get('service_name') or '?'} was deactivated; its alert was closed{after}."]
        else:
            lines = [f"Recovered{after}: {service_words(payload)} is sending heartbeats again."]
    elif kind == NotificationKind.FLAPPING:
        lines = [f"Flapping: {service_words(payload)} {flapping_words(payload)}."]
    else:
        duration = down_for(payload, "occurred_at")
        since = f" for {duration}" if duration else ""
        lines = [f"Still down{since}: {service_words(payload)} ({reason_text(payload.get('reason'))})."]
    if payload.get("team"):
        lines.append(f"Team: {payload['team']}")
    for label, url in (("Runbook", payload.get("runbook")), ("Open in Medic", payload.get("medic_url"))):
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            lines.append(f"{label}: {url}")
    return "\n".join(" ".join(line.split()) for line in lines)[:MAX_BODY_CHARS]


# -- the channel ---------------------------------------------------------------


class AppriseChannel:
    """Sends to every URL given (APPRISE_URL via `from_settings`, or explicit URLs)."""

    name = APPRISE

    def __init__(self, urls: str | Iterable[str], *, timeout: float = 10.0) -> None:
        self._urls = check_urls(urls)
        self._timeout = timeout
        self._secrets = [part for url in self._urls for part in _secret_parts(url)]
        # notification id -> positions of the targets that accepted it already
        self._accepted: OrderedDict[int, set[int]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AppriseChannel:
        if not settings.apprise_url:
            raise ValueError("APPRISE_URL is not set")
        return cls(settings.apprise_url.get_secret_value(), timeout=settings.notify_timeout_seconds)

    @property
    def targets(self) -> int:
        return len(self._urls)

    def describe(self) -> str:
        """One line for the startup log: the URLs' schemes only (the rest holds tokens)."""
        return f"{len(self._urls)} target(s): {', '.join(_scheme(url) + '://' for url in self._urls)}"

    def close(self) -> None:
        """Nothing to release: each send builds its own Apprise objects."""

    def send(self, notification: Notification) -> DeliveryResult:
        notify_type = NOTIFY_TYPES.get(notification.kind)
        if notify_type is None:
            return DeliveryResult(DeliveryOutcome.PERMANENT, error=f"unknown notification kind {notification.kind!r}")
        title = title_for(notification.kind, notification.payload)
        body = body_for(notification.kind, notification.payload)
        with self._lock:
            done = set(self._accepted.get(notification.id, ()))
        retry: list[str] = []
        permanent: list[str] = []
        for position, url in enumerate(self._urls, 1):
            if position in done:
                continue
            outcome, detail = self._send_one(url, title, body, notify_type)
            if outcome == DeliveryOutcome.DELIVERED:
                done.add(position)
            else:
                where = f"target {position} of {len(self._urls)}" if len(self._urls) > 1 else "target"
                (retry if outcome == DeliveryOutcome.RETRY else permanent).append(f"{where}: {detail}")
        failures = retry + permanent
        with self._lock:
            if retry:  # remember who has it, so that the retry reaches only the others
                self._accepted[notification.id] = done
                self._accepted.move_to_end(notification.id)
                while len(self._accepted) > MAX_TRACKED:
                    self._accepted.popitem(last=False)
            else:
                self._accepted.pop(notification.id, None)
        if not failures:
            return DeliveryResult(DeliveryOutcome.DELIVERED)
        error = safe_error("Apprise " + "; ".join(failures), self._secrets)
        if retry:
            return DeliveryResult(DeliveryOutcome.RETRY, error=error)
        return DeliveryResult(DeliveryOutcome.PERMANENT, error=error)

    def _send_one(self, url: str, title: str, body: str, notify_type: str) -> tuple[DeliveryOutcome, str]:
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:  # checked at start; only a plugin that changed its mind
            return DeliveryOutcome.PERMANENT, f"{_scheme(url)}:// URL not accepted"
        service = str(getattr(plugin, "service_name", None) or _scheme(url))
        if "cto=" not in url:
            plugin.socket_connect_timeout = self._timeout
        if "rto=" not in url:
            plugin.socket_read_timeout = self._timeout
        sender = apprise.Apprise()
        sender.add(plugin)
        try:
            result = sender.notify(
                body=body, title=title, notify_type=notify_type, body_format=apprise.NotifyFormat.TEXT,
                timeout=self._timeout * 3,
            )
        except Exception as exc:  # Apprise reports failures in its result; anything else is its bug
            return DeliveryOutcome.RETRY, f"{service}: {type(exc).__name__}"
        if result:
            return DeliveryOutcome.DELIVERED, ""
        services = list(result)
        if not services:  # Apprise would not prepare the message at all
            return DeliveryOutcome.PERMANENT, f"{service}: message refused by Apprise"
        status = services[0].status
        if status == AppriseResultStatus.TIMEOUT:
            return DeliveryOutcome.RETRY, f"{service}: timed out"
        codes = [int(match.group(1)) for entry in services[0].logs() for match in _STATUS.finditer(entry.message)]
        if not codes:
            return DeliveryOutcome.RETRY, f"{service}: no answer (connection failed or timed out)"
        code = codes[-1]
        if code >= 500 or code in (408, 429):
            return DeliveryOutcome.RETRY, f"{service}: HTTP {code}"
        return DeliveryOutcome.PERMANENT, f"{service}: HTTP {code}"
