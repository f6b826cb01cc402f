"""Deliver due outbox rows through the channels, in parallel, recording every outcome."""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Callable, Mapping

from medic.clock import Clock
from medic.core.delivery import retry_delay
from medic.metrics import process_metrics
from medic.notify import Channel, DeliveryResult, Notification
from medic.store import outbox

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.dispatch")

BATCH = 200
SENDERS = 8


class Dispatcher:
    def __init__(
        self,
        engine: "Engine",
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        send_timeout: float,
        jitter: Callable[[], float] = random.random,
    ):
        self.engine = engine
        self.channels = channels
        self.clock = clock
        self.jitter = jitter
        # A claim outlives the slowest send, so a live worker never loses its claim.
        self.lease = timedelta(seconds=send_timeout * 3 + 30)
        self.pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="medic-send")
        self.metrics = process_metrics()

    def run(self) -> int:
        """Deliver everything due now (in batches); returns how many were attempted."""
        attempted = 0
        while True:
            with self.engine.begin() as conn:
                rows = outbox.claim_due(conn, self.clock(), self.lease, BATCH)
                refs = outbox.trigger_refs(conn, {(r.alert_id, r.channel) for r in rows if r.kind != "trigger"})
            if not rows:
                return attempted
            attempted += len(rows)
            list(self.pool.map(lambda row: self._deliver(row, refs.get((row.alert_id, row.channel))), rows))
            if len(rows) < BATCH:
                return attempted

    def _deliver(self, row, thread_ref: str | None) -> None:
        channel = self.channels.get(row.channel)
        if channel is None:
            # Configuration changed since the row was written; retrying cannot help.
            result = DeliveryResult("permanent", error=f"channel {row.channel} is no longer configured")
        else:
            notification = Notification(
                id=row.notification_id, channel=row.channel, kind=row.kind, payload=row.payload, thread_ref=thread_ref
            )
            try:
                result = channel.send(notification)
            except Exception as exc:  # a bug in a channel must not strand the row as "sending"
                log.exception("channel %s raised on notification %s", row.channel, row.notification_id)
                result = DeliveryResult("retry", error=f"internal error: {type(exc).__name__}")
        self._record(row, result)

    def _record(self, row, result: DeliveryResult) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            if result.outcome == "delivered":
                outbox.mark_delivered(conn, row.notification_id, row.claimed_until, now, result.provider_ref)
                outcome = "sent"
            elif result.outcome == "retry":
                delay = retry_delay(row.attempts, result.retry_after, self.jitter())
                outbox.mark_retry(conn, row.notification_id, row.claimed_until, now + timedelta(seconds=delay), result.error)
                outcome = "retried"
                log.warning(
                    "%s %s for alert %s not delivered (attempt %d): %s; retrying in %.1fs",
                    row.channel, row.kind, row.alert_id, row.attempts, result.error, delay,
                )
            else:
                outbox.mark_failed(conn, row.notification_id, row.claimed_until, now, result.error)
                outcome = "failed"
                log.error(
                    "%s %s for alert %s failed permanently: %s", row.channel, row.kind, row.alert_id, result.error
                )
        self.metrics.notifications.labels(channel=row.channel, outcome=outcome).inc()

    def close(self) -> None:
        self.pool.shutdown(wait=True)

