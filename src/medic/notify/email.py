"""Email over SMTP: one message per notification, in plain text and HTML.

Threading: every message of one alert has the same subject ("[Medic] <alert
name>", prefixed "Re: " after the first), and the reminders and the recovery
carry In-Reply-To and References naming the trigger's Message-ID, so mail clients
show one conversation per alert. Message-IDs are derived from the alert's dedup
key (and the notification id for reminders), never random: a retry and a re-send
after a crash carry the same Message-ID as the first attempt.

Connection: SMTP_TLS "starttls" (default, port 587) upgrades a plain connection
before logging in, "tls" connects with TLS from the start (port 465), "none"
sends in clear (port 25; for a relay on localhost). SMTP_USER and SMTP_PASSWORD
log in when set. The server certificate is verified against the system's CAs.

Classification (smtplib is synchronous; one connection per message):
  the server accepted the message for at least one recipient -> "delivered"
  connection refused or reset, timeouts, TLS errors, 4xx replies
  (greeting, login, MAIL, RCPT, DATA), a server that hangs up  -> "retry"
  5xx replies, every recipient refused with 5xx, the server
  lacking STARTTLS or AUTH that the settings ask for          -> "permanent"
A recipient refused while others were accepted is logged (not retried: the
others would get the message twice).

Email cannot tell whether an earlier attempt went out: a worker killed after the
server accepted a message but before recording it sends that message again (one
duplicate, with the same Message-ID, which many mailboxes fold into one).

The password never appears in an error, a log line or the outbox.
"""

from __future__ import annotations

import html
import logging
import re
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from typing import TYPE_CHECKING, Callable, Iterable, Literal

from medic.core.model import DeliveryOutcome, NotificationKind
from medic.notify.base import (
    EMAIL,
    DeliveryResult,
    Notification,
    down_for,
    flapping_words,
    exception_error,
    reason_text,
    safe_error,
    service_words,
)

if TYPE_CHECKING:  # medic.config imports this module to check SMTP_FROM and SMTP_TO
    from medic.config import Settings

log = logging.getLogger("medic.notify.email")

TlsMode = Literal["none", "starttls", "tls"]
DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "tls": 465}
MAX_SUBJECT_CHARS = 200
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")


def parse_addresses(value: str | Iterable[str]) -> list[str]:
    """Bare addresses from a comma-separated list (or a list), display names dropped.

    Raises ValueError naming the first entry that is not an address."""
    items = value.split(",") if isinstance(value, str) else list(value)
    addresses = []
    for item in (part.strip() for part in items):
        if not item:
            continue
        [(_, address)] = getaddresses([item]) or [("", "")]
        if not _is_address(address):
            raise ValueError(f"{item!r} is not an email address")
        addresses.append(address)
    return addresses


def parse_sender(value: str) -> str:
    """The bare address of SMTP_FROM ("Medic <medic@example.com>" or "medic@example.com")."""
    _, address = parseaddr(value)
    if not _is_address(address) or "\n" in value or "\r" in value:
        raise ValueError(f"{value!r} is not an email address")
    return address


def _is_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain and " " not in address and "," not in address)


# -- the message ---------------------------------------------------------------


def _one_line(value: object, limit: int = 500) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _token(value: object) -> str:
    return _ID_UNSAFE.sub("-", str(value)).strip("-.") or "x"


def message_ids(notification: Notification, domain: str) -> tuple[str, str]:
    """(this message's Message-ID, the alert's trigger Message-ID)."""
    payload = notification.payload
    alert = _token(payload.get("dedup_key") or f"medic-alert-{payload.get('alert_id') or notification.id}")
    trigger = f"<{alert}@{domain}>"
    if notification.kind == NotificationKind.TRIGGER:
        return trigger, trigger
    if notification.kind == NotificationKind.RESOLVE:
        return f"<{alert}.resolve@{domain}>", trigger
    return f"<{alert}.{_token(notification.kind)}.{notification.id}@{domain}>", trigger


def subject_for(notification: Notification) -> str:
    payload = notification.payload
    name = payload.get("alert_name") or (
        f"{payload.get('heartbeat_name') or '?'} ({payload.get('service_name') or '?'})"
    )
    subject = _one_line(f"[Medic] {name}", MAX_SUBJECT_CHARS)
    return subject if notification.kind == NotificationKind.TRIGGER else f"Re: {subject}"


def headline(kind: str, payload: dict) -> str:
    """The first line of the message: what happened."""
    if kind == NotificationKind.TRIGGER:
        priority = str(payload.get("priority") or "?").upper()
        return _one_line(f"DOWN ({priority}): {service_words(payload)}: {reason_text(payload.get('reason'))}")
    if kind == NotificationKind.RESOLVE:
        duration = down_for(payload, "closed_at")
        after = f" after {duration}" if duration else ""
        if payload.get("reason") == "deactivated":
            return _one_line(f"RESOLVED: service {payload.get('service_name') or '?'} was deactivated; "
                             f"its alert was closed{after}")
        return _one_line(f"RECOVERED{after}: {service_words(payload)} is sending heartbeats again")
    if kind == NotificationKind.FLAPPING:
        return _one_line(f"FLAPPING: {service_words(payload)} {flapping_words(payload)}")
    duration = down_for(payload, "occurred_at")
    since = f" for {duration}" if duration else ""
    return _one_line(f"STILL DOWN{since}: {service_words(payload)} ({reason_text(payload.get('reason'))})")


def _details(kind: str, payload: dict) -> list[tuple[str, str]]:
    expects = None
    if payload.get("threshold") is not None and payload.get("alert_interval") is not None:
        expects = f"{payload['threshold']} heartbeat(s) every {payload['alert_interval']} min"
    rows = [
        ("Service", payload.get("service_name")),
        ("Heartbeat", payload.get("heartbeat_name")),
        ("Team", payload.get("team")),
        ("Priority", str(payload["priority"]).upper() if payload.get("priority") else None),
        ("Reason", reason_text(payload.get("reason"))),
    ]
    if kind == NotificationKind.TRIGGER:
        rows += [("Expects", expects), ("Last heartbeat", payload.get("last_heartbeat_at") or "never")]
        if payload.get("affected"):  # services depending on it, suppressed (docs/alerting.md)
            rows.append(("Also down (suppressed)", ", ".join(map(str, payload["affected"]))))
    rows.append(("Opened", payload.get("opened_at")))
    if kind == NotificationKind.RESOLVE:
        rows.append(("Closed", payload.get("closed_at")))
    return [(label, _one_line(value)) for label, value in rows if value not in (None, "")]


def _links(payload: dict) -> list[tuple[str, str]]:
    links = []
    for label, url in (("Runbook", payload.get("runbook")), ("Open in Medic", payload.get("medic_url"))):
        if isinstance(url, str) and url.startswith(("http://", "https://")) and not any(c.isspace() for c in url):
            links.append((label, url))
    return links


def text_body(kind: str, payload: dict) -> str:
    lines = [headline(kind, payload), ""]
    details = _details(kind, payload) + _links(payload)
    width = max((len(label) for label, _ in details), default=0) + 1
    lines += [f"{label + ':':<{width}} {value}" for label, value in details]
    lines += ["", "-- ", f"Sent by Medic (alert {payload.get('alert_id') or '?'})."]
    return "\n".join(lines) + "\n"


def html_body(kind: str, payload: dict) -> str:
    esc = html.escape
    colour = {"trigger": "#b42318", "resolve": "#067647"}.get(kind, "#b54708")
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{esc(label)}</th><td>{esc(value)}</td></tr>'
        for label, value in _details(kind, payload)
    )
    links = " &middot; ".join(f'<a href="{esc(url, quote=True)}">{esc(label)}</a>' for label, url in _links(payload))
    return (
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">"
        f'<p style="font-weight:bold;color:{colour}">{esc(headline(kind, payload))}</p>'
        f"<table>{rows}</table>"
        + (f"<p>{links}</p>" if links else "")
        + f'<p style="color:#667085;font-size:small">Sent by Medic (alert {esc(str(payload.get("alert_id") or "?"))}).</p>'
        "</body></html>\n"
    )


def build_message(
    notification: Notification, sender: str, recipients: list[str], domain: str, now: datetime
) -> EmailMessage:
    message_id, trigger_id = message_ids(notification, domain)
    if notification.thread_ref and _MESSAGE_ID.match(notification.thread_ref):
        trigger_id = notification.thread_ref  # what the trigger was actually sent with
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject_for(notification)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    if notification.kind != NotificationKind.TRIGGER:
        message["In-Reply-To"] = trigger_id
        message["References"] = trigger_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Medic-Event"] = notification.kind
    if notification.payload.get("alert_id") is not None:
        message["X-Medic-Alert"] = _token(notification.payload["alert_id"])
    message.set_content(text_body(notification.kind, notification.payload))
    message.add_alternative(html_body(notification.kind, notification.payload), subtype="html")
    return message


# -- the channel ---------------------------------------------------------------


@dataclass(frozen=True)
class _Refusal:
    code: int
    text: str


def _classify_code(code: int, error: str) -> DeliveryResult:
    if 400 <= code < 500:
        return DeliveryResult(DeliveryOutcome.RETRY, error=error)
    if code >= 500:
        return DeliveryResult(DeliveryOutcome.PERMANENT, error=error)
    # Not an SMTP error code (smtplib uses -1 for a garbled reply): try again.
    return DeliveryResult(DeliveryOutcome.RETRY, error=error)


def _reply_text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class EmailChannel:
    """Sends to a fixed list of recipients. Built from settings by `from_settings`,
    or directly with explicit arguments (e.g. one channel per set of recipients)."""

    name = EMAIL

    def __init__(
        self,
        host: str,
        sender: str,
        recipients: str | Iterable[str],
        *,
        port: int | None = None,
        tls: TlsMode = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if tls not in DEFAULT_PORTS:
            raise ValueError(f"tls must be one of {', '.join(DEFAULT_PORTS)}")
        self._host = host
        self._port = port or DEFAULT_PORTS[tls]
        self._tls = tls
        self._sender = _one_line(sender)
        self._envelope_from = parse_sender(sender)
        self._recipients = parse_addresses(recipients)
        if not self._recipients:
            raise ValueError("at least one recipient is needed")
        self._domain = _token(self._envelope_from.rpartition("@")[2].lower())
        self._username = username or None
        self._password = password or None
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._clock = clock
        if self._password and tls == "none":
            log.warning("SMTP_TLS is none: the SMTP password is sent to %s without encryption", host)

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailChannel:
        if not settings.email_configured:
            raise ValueError("SMTP_HOST, SMTP_FROM and SMTP_TO must be set")
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            settings.smtp_host,
            settings.smtp_from,
            settings.smtp_to,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_user,
            password=password,
            timeout=settings.notify_timeout_seconds,
        )

    @property
    def recipients(self) -> list[str]:
        return list(self._recipients)

    def describe(self) -> str:
        """One line for the startup log, without the password."""
        login = f", as {self._username}" if self._username and self._password else ""
        return f"{self._host}:{self._port} ({self._tls}{login}) to {len(self._recipients)} recipient(s)"

    def close(self) -> None:
        """Nothing to release: one SMTP connection per message."""

    def send(self, notification: Notification) -> DeliveryResult:
        if notification.kind not in (NotificationKind.TRIGGER, NotificationKind.RESOLVE, NotificationKind.REMINDER,
                                     NotificationKind.FLAPPING):
            return DeliveryResult(DeliveryOutcome.PERMANENT, error=f"unknown notification kind {notification.kind!r}")
        now = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        message = build_message(notification, self._sender, self._recipients, self._domain, now)
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect()
            if self._username and self._password:
                smtp.login(self._username, self._password)
            refused = smtp.send_message(message, from_addr=self._envelope_from, to_addrs=self._recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            return self._all_refused(exc.recipients)
        except smtplib.SMTPResponseException as exc:
            # Greeting, HELO, STARTTLS, AUTH, MAIL or DATA answered with an error code.
            stage = type(exc).__name__.removeprefix("SMTP")
            return _classify_code(exc.smtp_code, self._error(f"SMTP {exc.smtp_code} ({stage}): {_reply_text(exc.smtp_error)}"))
        except smtplib.SMTPNotSupportedError as exc:
            # The server lacks STARTTLS or AUTH that the settings require: configuration.
            return DeliveryResult(DeliveryOutcome.PERMANENT, error=self._error(f"SMTP server: {exc}"))
        except (smtplib.SMTPException, OSError) as exc:
            # Refused or reset connections, timeouts, TLS failures, a server that hung up.
            return DeliveryResult(DeliveryOutcome.RETRY, error=exception_error(exc, self._secrets()))
        finally:
            if smtp is not None:
                self._quit(smtp)
        if refused:
            log.warning(
                "email for notification %s accepted for %d of %d recipient(s); refused: %s",
                notification.id, len(self._recipients) - len(refused), len(self._recipients),
                safe_error(", ".join(f"{addr} ({code[0]})" for addr, code in sorted(refused.items())), self._secrets()),
            )
        return DeliveryResult(DeliveryOutcome.DELIVERED, provider_ref=message["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        context = self._ssl_context or ssl.create_default_context()
        if self._tls == "tls":
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        try:
            if self._tls == "starttls":
                smtp.ehlo()
                smtp.starttls(context=context)
                smtp.ehlo()
        except BaseException:
            self._quit(smtp)
            raise
        return smtp

    @staticmethod
    def _quit(smtp: smtplib.SMTP) -> None:
        """Say goodbye; a message already accepted stays delivered whatever happens here."""
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _all_refused(self, recipients: dict) -> DeliveryResult:
        codes = {addr: _Refusal(int(code), _reply_text(text)) for addr, (code, text) in recipients.items()}
        detail = "; ".join(f"{addr}: {r.code} {r.text}" for addr, r in sorted(codes.items()))
        error = self._error(f"SMTP every recipient refused: {detail}")
        # One temporary refusal is worth another try; all permanent is permanent.
        if any(r.code < 500 for r in codes.values()):
            return DeliveryResult(DeliveryOutcome.RETRY, error=error)
        return DeliveryResult(DeliveryOutcome.PERMANENT, error=error)

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._password,)

    def _error(self, text: str) -> str:
        return safe_error(text, self._secrets())
