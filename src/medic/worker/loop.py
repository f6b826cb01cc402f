"""The worker: evaluation every WORKER_INTERVAL_SECONDS; delivery per channel in
its own thread, every second and right after an evaluation queued something;
cleanup once a day at 00:00 UTC (once across all workers), in the background.

Nothing slow sits in front of an evaluation: a hanging provider or a long
cleanup never delays the next page.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from medic.clock import Clock, utcnow
from medic.config import Settings
from medic.logs import RepeatedFailure
from medic.metrics import process_metrics
from medic.notify import CHANNEL_NAMES, Channel, build_channels, close_channels
from medic.store import worker_state as ws
from medic.store.errors import DATABASE_ERROR, describe_db_error
from medic.store.instrument import instrument
from medic.worker.cleanup import run_cleanup
from medic.worker.dispatch import ChannelDispatcher
from medic.worker.evaluate import EvaluationResult, evaluate
from medic.worker.targets import TargetChannels

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.worker")

# Retries come due on a finer grain than evaluation: the first one within ~2 s.
DELIVERY_TICK_SECONDS = 1.0
CLEANUP_CLAIM = "cleanup_day"


class Worker:
    def __init__(
        self,
        settings: Settings,
        engine: "Engine",
        *,
        clock: Clock = utcnow,
        channels: Mapping[str, Channel] | None = None,
        liveness_file: str | None = None,
        run_daily_cleanup: bool = True,
    ):
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.channels = dict(build_channels(settings) if channels is None else channels)
        self.liveness_file = Path(liveness_file) if liveness_file else None
        self.run_daily_cleanup = run_daily_cleanup
        self.metrics = process_metrics()
        instrument(engine, self.metrics.observe_query)
        # One dispatcher per channel type: the default route's channel when configured,
        # and the route targets of that type (docs/routing.md).
        self.targets = TargetChannels(engine, settings)
        self.dispatchers = [
            ChannelDispatcher(
                engine, name, self.channels.get(name), clock,
                targets=self.targets, send_timeout=settings.notify_timeout_seconds,
            )
            for name in sorted(set(CHANNEL_NAMES) | set(self.channels))
        ]
        self._wake = {d.name: threading.Event() for d in self.dispatchers}
        self._cleanup_thread: threading.Thread | None = None
        # Since when this worker's cycles have failed (None: the last one completed); a
        # gap that a failing worker ends is the database's (core/gaps.py).
        self.failing_since: datetime | None = None
        # Logged when the cycles start failing, once a minute while they do, and when one
        # completes again: not a line per cycle (WORKER_INTERVAL_SECONDS may be 1).
        self.cycle_failures = RepeatedFailure(log, "worker cycle failed: database error")
        self._web_silent_since: datetime | None = None

    # -- one step at a time (tests, `medic worker --once`) -----------------

    def evaluate(self) -> EvaluationResult:
        result = evaluate(self.engine, self.settings, sorted(self.channels), self.clock(), failing_since=self.failing_since)
        self._note_web_silence(result.web_silent_since)
        return result

    def deliver(self) -> int:
        """Deliver everything due on every channel, now, in this thread."""
        return sum(dispatcher.run() for dispatcher in self.dispatchers)

    def run_once(self) -> EvaluationResult:
        """One full cycle: evaluate, deliver what is due, run today's cleanup if unclaimed."""
        result = self.cycle()
        self.deliver()
        if self._claim_cleanup():
            self._cleanup()
        return result

    def cycle(self) -> EvaluationResult:
        """Evaluate and record the completed cycle (for /health and the liveness probe)."""
        started = time.perf_counter()
        result = self.evaluate()
        for (team, outcome), count in result.slot_outcomes.items():
            self.metrics.slot_outcomes.labels(team=team, outcome=outcome).inc(count)
        now = self.clock()
        with self.engine.begin() as conn:
            ws.put(conn, ws.LAST_CYCLE, now.isoformat(), now)
        self.metrics.worker_cycle.observe(time.perf_counter() - started)
        if self.liveness_file is not None:
            self.liveness_file.touch()
        self.failing_since = None
        self.cycle_failures.succeeded()
        return result

    def step(self) -> EvaluationResult | None:
        """One cycle of the long-running loop: a database error is logged (and noted,
        for the gap it may cause) and returns None; the next cycle retries."""
        try:
            return self.cycle()
        except DATABASE_ERROR as exc:
            # A database blip must not kill the worker; the next cycle retries.
            if self.failing_since is None:
                self.failing_since = self.clock()
            self.cycle_failures.failed(f"{describe_db_error(exc)}; retrying next cycle")
            return None

    def _note_web_silence(self, since: datetime | None) -> None:
        if since is not None and self._web_silent_since is None:
            log.warning(
                "no web process has marked itself up since %s: services due since then do not page "
                "until heartbeats can be received again", since.isoformat(),
            )
        elif since is None and self._web_silent_since is not None:
            log.info("a web process is up again (silent since %s)", self._web_silent_since.isoformat())
        self._web_silent_since = since

    # -- cleanup -------------------------------------------------------------

    def _claim_cleanup(self) -> bool:
        if not self.run_daily_cleanup:
            return False
        now = self.clock()
        with self.engine.begin() as conn:
            return ws.claim_daily(conn, CLEANUP_CLAIM, now.date().isoformat(), now)

    def _cleanup(self) -> None:
        try:
            run_cleanup(self.engine, self.settings, clock=self.clock)
        except Exception:
            # Not fatal to alerting; the metric and /health show the last success.
            log.exception("daily cleanup failed; it runs again tomorrow or with `medic cleanup`")

    # -- the long-running worker ------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        interval = self.settings.worker_interval_seconds
        log.info("worker started; evaluation every %ss; channels: %s", interval, ", ".join(self.channels) or "none")
        for name, channel in sorted(self.channels.items()):
            describe = getattr(channel, "describe", None)
            if callable(describe):
                log.info("channel %s: %s", name, describe())
        senders = [
            threading.Thread(target=self._deliver_forever, args=(d, stop), name=f"medic-deliver-{d.name}", daemon=True)
            for d in self.dispatchers
        ]
        for thread in senders:
            thread.start()
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = self.step()
                if result and (result.opened or result.closed or result.reminded or result.escalated
                               or result.released):
                    self._wake_all()
                if result and self._claim_cleanup() and not (self._cleanup_thread and self._cleanup_thread.is_alive()):
                    self._cleanup_thread = threading.Thread(target=self._cleanup, name="medic-cleanup", daemon=True)
                    self._cleanup_thread.start()
            except DATABASE_ERROR as exc:  # claiming the daily cleanup, after a completed cycle
                self.cycle_failures.failed(f"{describe_db_error(exc)}; retrying next cycle")
            except Exception:
                log.exception("worker cycle failed; retrying next cycle")
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
        self._wake_all()
        for thread in senders:
            thread.join(timeout=60)
        self.close()
        log.info("worker stopped")

    def _wake_all(self) -> None:
        for event in self._wake.values():
            event.set()

    def _deliver_forever(self, dispatcher: ChannelDispatcher, stop: threading.Event) -> None:
        wake = self._wake[dispatcher.name]
        database = RepeatedFailure(log, f"outbox database error while delivering {dispatcher.name} notifications")
        while not stop.is_set():
            wake.clear()
            try:
                dispatcher.run()
                database.succeeded()
            except DATABASE_ERROR as exc:
                database.failed(describe_db_error(exc))
            except Exception:
                log.exception("%s dispatcher failed unexpectedly; retrying", dispatcher.name)
            wake.wait(DELIVERY_TICK_SECONDS)

    def close(self) -> None:
        for dispatcher in self.dispatchers:
            dispatcher.close()
        close_channels(self.channels)
        self.targets.close()
