"""Retry policy for notification delivery (docs/alerting.md, "Delivery")."""

from __future__ import annotations

FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 300.0
MAX_RETRY_AFTER_SECONDS = 3600.0


def retry_delay(attempts: int, retry_after: float | None, jitter: float) -> float:
    """Seconds to wait before the next attempt.

    Exponential from ~2 s, capped at 5 minutes, with ``jitter`` (0..1, from the
    caller's random source) spreading the second half of the delay so that many
    failed notifications do not retry in lockstep. A provider's Retry-After wins
    when it asks for longer.
    """
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    delay = base / 2 + base / 2 * jitter
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay
