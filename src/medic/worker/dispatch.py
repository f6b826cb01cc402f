"""Deliver due outbox rows, one dispatcher per channel, recording every outcome.

Each channel has its own dispatcher (and, under ``Worker.run_forever``, its own
thread), so a provider that hangs delays only its own notifications. A
dispatcher claims no more rows than it has senders, so every claimed row starts
sending at once and finishes well inside its lease: another worker never sees
the claim expire under a live send and never sends the row a second time.
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Callable

from medic.clock import Clock
from medic.core.delivery import retry_delay
from medic.metrics import process_metrics
from medic.notify import Channel, DeliveryResult, Notification
from medic.store import outbox

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.dispatch")

SENDERS = 4


def lease_for(send_timeout: float) -> timedelta:
    """How long a claim lasts: several send timeouts (connect, write and read each
    get one) plus slack. A worker that dies mid-send is taken over after this."""
    return timedelta(seconds=send_timeout * 4 + 20)


class ChannelDispatcher:
    def __init__(
        self,
        engine: "Engine",
        name: str,
        channel: Channel,
        clock: Clock,
        *,
        send_timeout: float,
        senders: int = SENDERS,
        jitter: Callable[[], float] = random.random,
    ):
        self.engine = engine
        self.name = name
        self.channel = channel
        self.clock = clock
        self.jitter = jitter
        self.senders = senders
        self.lease = lease_for(send_timeout)
        self.pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix=f"medic-{name}")
        self.metrics = process_metrics()

    def run(self) -> int:
        """Deliver everything due now on this channel; returns how many were attempted."""
        attempted = 0
        while True:
            with self.engine.begin() as conn:
                rows = outbox.claim_due(conn, self.clock(), self.lease, self.senders, channel=self.name)
                refs = outbox.trigger_refs(conn, {(r.alert_id, r.channel) for r in rows if r.kind != "trigger"})
            if not rows:
                return attempted
            attempted += len(rows)
            list(self.pool.map(lambda row: self._deliver(row, refs.get((row.alert_id, row.channel))), rows))

    def _deliver(self, row, thread_ref: str | None) -> None:
        notification = Notification(
            id=row.notification_id, channel=row.channel, kind=row.kind, payload=row.payload, thread_ref=thread_ref
        )
        try:
            result = self.channel.send(notification)
        except Exception as exc:  # a bug in a channel must not strand the row as "sending"
            log.exception("channel %s raised on notification %s", row.channel, row.notification_id)
            result = DeliveryResult("retry", error=f"internal error: {type(exc).__name__}")
        self._record(row, result)

    def _record(self, row, result: DeliveryResult) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            if result.outcome == "delivered":
                kept = outbox.mark_delivered(conn, row.notification_id, row.claimed_until, now, result.provider_ref)
                outcome = "sent"
            elif result.outcome == "retry":
                delay = retry_delay(row.attempts, result.retry_after, self.jitter())
                kept = outbox.mark_retry(
                    conn, row.notification_id, row.claimed_until, now + timedelta(seconds=delay), result.error
                )
                outcome = "retried"
                log.warning(
                    "%s %s for alert %s not delivered (attempt %d): %s; retrying in %.1fs",
                    row.channel, row.kind, row.alert_id, row.attempts, result.error, delay,
                )
            else:
                kept = outbox.mark_failed(conn, row.notification_id, row.claimed_until, now, result.error)
                outcome = "failed"
                log.error(
                    "%s %s for alert %s failed permanently: %s", row.channel, row.kind, row.alert_id, result.error
                )
        if not kept:
            # The lease ran out under this send and another worker took the row over.
            log.error("%s %s for alert %s: claim lost before recording %s", row.channel, row.kind, row.alert_id, outcome)
            return
        self.metrics.notifications.labels(channel=row.channel, outcome=outcome).inc()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
