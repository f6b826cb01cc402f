"""Deliver due outbox rows, one dispatcher per channel, recording every outcome.

Each channel has its own dispatcher (and, under ``Worker.run_forever``, its own
thread), so a provider that hangs delays only its own notifications.

No row is ever sent twice by live workers: a dispatcher claims only as many rows
as it has idle senders (each claimed row starts sending at once), and it extends
the claims of rows still being sent well before they expire, so another worker
never takes over a live send. Only a worker that dies mid-send leaves a claim to
expire; the row is then sent again (at least once, never lost), and the channel
is told (``Notification.reclaimed``) so that it can look for the earlier attempt.

A failing channel is probed: its oldest waiting row is tried at least every
``PROBE_SECONDS`` (never before a provider's Retry-After), and the first success
releases the rest of its backlog at once instead of each row waiting out its own
backoff.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from medic.clock import Clock
from medic.core.delivery import retry_delay
from medic.core.model import DeliveryOutcome, NotificationKind
from medic.metrics import process_metrics
from medic.notify import Channel, DeliveryResult, Notification
from medic.store import outbox
from medic.store.errors import DATABASE_ERROR, describe_db_error

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from medic.worker.targets import TargetChannels

log = logging.getLogger("medic.dispatch")

SENDERS = 4
PROBE_SECONDS = 5.0


def lease_for(send_timeout: float) -> timedelta:
    """How long a claim lasts: several send timeouts (connect, write and read each
    get one) plus slack. Live sends extend it; a worker that dies mid-send is taken
    over after this."""
    return timedelta(seconds=send_timeout * 4 + 20)


class _InFlight:
    """A claimed row being sent; the lock keeps extending and recording apart."""

    __slots__ = ("row", "claim", "lock")

    def __init__(self, row) -> None:
        self.row = row
        self.claim: datetime = row.claimed_until
        self.lock = threading.Lock()


class ChannelDispatcher:
    def __init__(
        self,
        engine: "Engine",
        name: str,
        channel: Channel | None,
        clock: Clock,
        *,
        targets: "TargetChannels | None" = None,
        send_timeout: float,
        senders: int = SENDERS,
        jitter: Callable[[], float] = random.random,
        lease: timedelta | None = None,
        record_retry_seconds: float = 1.0,
    ):
        self.engine = engine
        self.name = name
        self.channel = channel  # the default route's (environment) channel, if configured
        self.targets = targets  # the route targets of this channel type, if routes are delivered here
        self.clock = clock
        self.jitter = jitter
        self.senders = senders
        self.lease = lease or lease_for(send_timeout)
        self.record_retry_seconds = record_retry_seconds
        self._closing = threading.Event()
        self._failing = False  # the last outcome seen on this channel was a retry
        self._next_probe: datetime | None = None
        self.pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix=f"medic-{name}")
        self.metrics = process_metrics()

    def run(self) -> int:
        """Deliver everything due now on this channel; returns how many were attempted."""
        attempted = 0
        inflight: dict[Future, _InFlight] = {}
        extend_every = self.lease.total_seconds() / 3
        try:
            while True:
                idle = self.senders - len(inflight)
                if idle:
                    rows, refs = self._claim(idle)
                    attempted += len(rows)
                    for row in rows:
                        flight = _InFlight(row)
                        ref = refs.get((row.alert_id, row.channel, row.target_id))
                        inflight[self.pool.submit(self._deliver, flight, ref)] = flight
                if not inflight:
                    return attempted
                done, _ = wait(inflight, timeout=extend_every, return_when=FIRST_COMPLETED)
                for future in done:
                    del inflight[future]
                if not done:
                    self._extend(list(inflight.values()))
        finally:
            # Never leave sends behind: their claims are only extended from here.
            for future in list(inflight):
                while not future.done():
                    if not wait([future], timeout=extend_every).done:
                        self._extend([inflight[future]])

    def _claim(self, limit: int) -> tuple[list, dict]:
        now = self.clock()
        whose = {"default": self.channel is not None, "targets": self.targets is not None}
        with self.engine.begin() as conn:
            rows = outbox.claim_due(conn, now, self.lease, limit, channel=self.name, **whose)
            if not rows and self._probe_due(now):
                self._next_probe = now + timedelta(seconds=PROBE_SECONDS)
                rows = outbox.claim_due(conn, now, self.lease, 1, channel=self.name, early=True, **whose)
            refs = outbox.trigger_refs(
                conn, {(r.alert_id, r.channel, r.target_id) for r in rows if r.kind != NotificationKind.TRIGGER}
            )
        for row in rows:
            if row.reclaimed:
                self.metrics.notification_reclaims.labels(channel=row.channel).inc()
                log.warning(
                    "%s %s for alert %s: the previous attempt's claim expired (a worker stopped mid-send?); "
                    "delivering it again",
                    row.channel, row.kind, row.alert_id,
                )
        return rows, refs

    def _probe_due(self, now: datetime) -> bool:
        return self._failing and (self._next_probe is None or now >= self._next_probe)

    def _extend(self, flights: list[_InFlight]) -> None:
        until = self.clock() + self.lease
        try:
            with self.engine.begin() as conn:
                for flight in flights:
                    with flight.lock:
                        if outbox.extend_claim(conn, flight.row.notification_id, flight.claim, until):
                            flight.claim = until
        except DATABASE_ERROR as exc:
            # The claims still hold for two more thirds of the lease; the next round retries.
            log.error("outbox database error while extending %s claims: %s", self.name, describe_db_error(exc))

    def _deliver(self, flight: _InFlight, thread_ref: str | None) -> None:
        row = flight.row
        notification = Notification(
            id=row.notification_id,
            channel=row.channel,
            kind=row.kind,
            payload=row.payload,
            thread_ref=thread_ref,
            reclaimed=bool(row.reclaimed or row.maybe_sent),
        )
        try:
            channel = self._channel_for(row)
            result = channel if isinstance(channel, DeliveryResult) else channel.send(notification)
        except Exception as exc:  # a bug in a channel must not strand the row as "sending"
            log.exception("channel %s raised on notification %s", row.channel, row.notification_id)
            result = DeliveryResult(DeliveryOutcome.RETRY, error=f"internal error: {type(exc).__name__}")
        self._record_until_claim_expires(flight, result)

    def _record_until_claim_expires(self, flight: _InFlight, result: DeliveryResult) -> None:
        """The provider has answered; only the record of it can still fail. While this
        worker's claim holds nobody else may send the row, so keep trying: a database
        outage (a failover) shorter than the lease then costs no second send."""
        row = flight.row
        retry = self.record_retry_seconds
        give_up = time.monotonic() + (flight.claim - self.clock()).total_seconds() - 2 * retry
        first = True
        while True:
            try:
                self._record(flight, result)
                return
            except DATABASE_ERROR as exc:
                if time.monotonic() >= give_up or self._closing.wait(retry):
                    log.error(
                        "outbox database error while recording %s %s for alert %s (%s): %s; it is sent again "
                        "when its claim expires", row.channel, row.kind, row.alert_id, result.outcome, describe_db_error(exc),
                    )
                    return
                if first:
                    first = False
                    log.warning(
                        "outbox database error while recording %s %s for alert %s (%s): %s; retrying while the claim holds",
                        row.channel, row.kind, row.alert_id, result.outcome, describe_db_error(exc),
                    )

    def _channel_for(self, row) -> Channel | DeliveryResult:
        if row.target_id is None:
            if self.channel is None:  # not claimed without one; a stray row waits for a worker that has it
                return DeliveryResult(DeliveryOutcome.RETRY, error=f"{self.name} is not configured on this worker")
            return self.channel
        if self.targets is None:
            return DeliveryResult(DeliveryOutcome.RETRY, error="route targets are not delivered by this worker")
        return self.targets.get(row.target_id)

    def _record(self, flight: _InFlight, result: DeliveryResult) -> None:
        row = flight.row
        now = self.clock()
        released = 0
        with flight.lock, self.engine.begin() as conn:
            if result.outcome == DeliveryOutcome.DELIVERED:
                kept = outbox.mark_delivered(conn, row.notification_id, flight.claim, now, result.provider_ref)
                if kept and (self._failing or row.attempts > 1):
                    released = outbox.release_backlog(conn, self.name, now)
                outcome = "sent"
            elif result.outcome == DeliveryOutcome.RETRY:
                delay = retry_delay(row.attempts, result.retry_after, self.jitter())
                kept = outbox.mark_retry(conn, row.notification_id, flight.claim, now + timedelta(seconds=delay), result.error)
                outcome = "retried"
                log.warning(
                    "%s %s for alert %s not delivered (attempt %d): %s; retrying in %.1fs",
                    row.channel, row.kind, row.alert_id, row.attempts, result.error, delay,
                )
            else:
                kept = outbox.mark_failed(conn, row.notification_id, flight.claim, now, result.error)
                outcome = "failed"
                log.error(
                    "%s %s for alert %s failed permanently: %s", row.channel, row.kind, row.alert_id, result.error
                )
        if outcome == "sent":
            self._failing, self._next_probe = False, None
            if result.already_delivered:
                self.metrics.notification_resends_avoided.labels(channel=row.channel).inc()
                log.info("%s %s for alert %s was already delivered; not sent again", row.channel, row.kind, row.alert_id)
            if released:
                log.info("%s accepts notifications again; %d waiting notification(s) released", self.name, released)
        elif outcome == "retried":
            self._failing = True
            hold = now + timedelta(seconds=max(PROBE_SECONDS, result.retry_after or 0.0))
            self._next_probe = max(self._next_probe or hold, hold)
        if not kept:
            # Only possible when this worker stalled past its lease (extensions failed).
            log.error("%s %s for alert %s: claim lost before recording %s", row.channel, row.kind, row.alert_id, outcome)
            return
        self.metrics.notifications.labels(channel=row.channel, outcome=outcome).inc()

    def close(self) -> None:
        self._closing.set()
        self.pool.shutdown(wait=True)
