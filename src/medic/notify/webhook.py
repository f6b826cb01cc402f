"""Generic webhook: one JSON POST per notification to MEDIC_WEBHOOK_URL.

Request
  POST <MEDIC_WEBHOOK_URL>
  Content-Type: application/json
  X-Medic-Event: trigger | resolve | reminder
  X-Medic-Delivery: <outbox id>   same value on every retry of one notification;
                                  delivery is at-least-once, so dedupe on it
  X-Medic-Timestamp: <unix seconds, integer>
  X-Medic-Signature: sha256=<hex>  only when MEDIC_WEBHOOK_SECRET is set
  webhook-id: msg_<dedup key>_<outbox id>   Standard Webhooks; same on every retry
  webhook-timestamp: <unix seconds>         Standard Webhooks; this attempt's time
  webhook-signature: v1,<base64>            Standard Webhooks; only with a secret
  body: {"event": <kind>, "alert": <alert payload>}

Signatures (both are sent when MEDIC_WEBHOOK_SECRET is set)
  X-Medic-Signature (Medic's own, kept for existing receivers):
    hex(HMAC-SHA256(key=<secret as UTF-8>, msg=<timestamp> + "." + <raw body bytes>))
  webhook-signature (https://www.standardwebhooks.com, signed with the
  `standardwebhooks` library, so any official verifier accepts it):
    "v1," + base64(HMAC-SHA256(key, msg=<webhook-id> + "." + <timestamp> + "." + <raw body>))
    where key is the base64-decoded rest of a secret of the standard form
    "whsec_<base64>", and otherwise the secret's UTF-8 bytes (a receiver then
    verifies with `Webhook(secret.encode())`).

To verify, a receiver takes the raw body bytes exactly as received (before any
JSON parsing), computes the HMAC over b"<X-Medic-Timestamp>." + body, compares it
with the header using a constant-time comparison, and rejects timestamps more than
a few minutes from its own clock to stop replays. `verify_signature` below does
exactly that and doubles as the reference implementation.

Any 2xx answer counts as delivered; timeouts, connection errors, 408, 429 and 5xx
are retried (honouring Retry-After on 429/503); any other status is permanent.
Redirects are not followed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import httpx
from standardwebhooks.webhooks import Webhook

from medic.core.model import DeliveryOutcome
from medic.notify.base import (
    WEBHOOK,
    DeliveryResult,
    Notification,
    classify_status,
    exception_error,
    safe_error,
)

if TYPE_CHECKING:  # medic.config imports this module to check MEDIC_WEBHOOK_SECRET
    from medic.config import Settings

SIGNATURE_HEADER = "X-Medic-Signature"
TIMESTAMP_HEADER = "X-Medic-Timestamp"
EVENT_HEADER = "X-Medic-Event"
DELIVERY_HEADER = "X-Medic-Delivery"
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks signing key for a secret: the base64 after "whsec_"
    when the secret has the standard form, else the secret's UTF-8 bytes.

    Raises ValueError for a "whsec_" secret whose rest is not base64."""
    if secret.startswith(STANDARD_SECRET_PREFIX):
        encoded = secret[len(STANDARD_SECRET_PREFIX):]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError('a secret starting with "whsec_" must continue with base64') from None
        if not key:
            raise ValueError('a secret starting with "whsec_" must continue with base64')
        return key
    return secret.encode("utf-8")


def standard_id(notification: Notification) -> str:
    """The webhook-id: one value per notification, the same on every retry (and
    after a worker died mid-send), different for every other notification."""
    dedup_key = str(notification.payload.get("dedup_key") or "medic")
    return f"msg_{dedup_key}_{notification.id}"


def standard_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value, computed by the standardwebhooks library."""
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return Webhook(key).sign(msg_id, when, body.decode("utf-8"))


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Medic-Signature header value for a body sent at `timestamp`."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Receiver side: True when the signature matches and the timestamp is fresh."""
    if not timestamp or not signature:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def encode_body(kind: str, payload: dict) -> bytes:
    return json.dumps({"event": kind, "alert": payload}, separators=(",", ":"), sort_keys=True).encode("utf-8")


class WebhookChannel:
    name = WEBHOOK

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        clock=time.time,
    ) -> None:
        self._url = url
        self._secret = secret or None
        self._standard_key = standard_key(self._secret) if self._secret else None
        self._clock = clock
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookChannel:
        if not settings.webhook_url:
            raise ValueError("MEDIC_WEBHOOK_URL is not set")
        return cls(settings.webhook_url, settings.webhook_secret, timeout=settings.notify_timeout_seconds)

    def close(self) -> None:
        self._client.close()

    def send(self, notification: Notification) -> DeliveryResult:
        body = encode_body(notification.kind, notification.payload)
        sent_at = int(self._clock())
        timestamp = str(sent_at)
        msg_id = standard_id(notification)
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: notification.kind,
            DELIVERY_HEADER: str(notification.id),
            TIMESTAMP_HEADER: timestamp,
            STANDARD_ID_HEADER: msg_id,
            STANDARD_TIMESTAMP_HEADER: timestamp,
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
            headers[STANDARD_SIGNATURE_HEADER] = standard_signature(self._standard_key, msg_id, sent_at, body)
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return DeliveryResult(DeliveryOutcome.RETRY, error=exception_error(exc, self._secrets()))
        detail = None
        if not response.is_success:
            detail = safe_error(response.text.strip(), self._secrets()) or None
        return classify_status(response.status_code, response.headers, error=detail)

    def _secrets(self) -> tuple[str | None, ...]:
        # The URL itself can be a credential (many services embed a token in its path).
        parsed = httpx.URL(self._url)
        path = parsed.raw_path.decode("ascii", "replace")
        return (self._secret, self._url, path if len(path) >= 8 else None)
