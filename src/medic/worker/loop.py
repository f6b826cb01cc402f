"""The worker: evaluation every WORKER_INTERVAL_SECONDS, delivery every second,
cleanup once a day at 00:00 UTC (once across all workers)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from medic.clock import Clock, utcnow
from medic.config import Settings
from medic.metrics import process_metrics
from medic.notify import Channel, build_channels, close_channels
from medic.store import worker_state as ws
from medic.store.instrument import instrument
from medic.worker.cleanup import run_cleanup
from medic.worker.dispatch import Dispatcher
from medic.worker.evaluate import EvaluationResult, evaluate

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.worker")

# Retries are due on a finer grain than evaluation: the first one within ~2 s.
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
        self.dispatcher = Dispatcher(engine, self.channels, clock, send_timeout=settings.notify_timeout_seconds)

    def evaluate(self) -> EvaluationResult:
        return evaluate(self.engine, self.settings, sorted(self.channels), self.clock())

    def deliver(self) -> int:
        return self.dispatcher.run()

    def run_once(self) -> EvaluationResult:
        """One full cycle: evaluate, deliver what is due, cleanup if today's is unclaimed."""
        started = time.perf_counter()
        result = self.evaluate()
        self.deliver()
        if self.run_daily_cleanup:
            self._daily_cleanup()
        now = self.clock()
        with self.engine.begin() as conn:
            ws.put(conn, ws.LAST_CYCLE, now.isoformat(), now)
        self.metrics.worker_cycle.observe(time.perf_counter() - started)
        if self.liveness_file is not None:
            self.liveness_file.touch()
        return result

    def _daily_cleanup(self) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            mine = ws.claim_daily(conn, CLEANUP_CLAIM, now.date().isoformat(), now)
        if mine:
            try:
                run_cleanup(self.engine, self.settings, clock=self.clock)
            except Exception:
                # Not fatal to alerting; the metric and /health show the last success.
                log.exception("daily cleanup failed; it runs again tomorrow or with `medic cleanup`")

    def run_forever(self, stop: threading.Event) -> None:
        interval = self.settings.worker_interval_seconds
        log.info("worker started; evaluation every %ss; channels: %s", interval, ", ".join(self.channels) or "none")
        next_cycle = time.monotonic()
        while not stop.is_set():
            try:
                if time.monotonic() >= next_cycle:
                    next_cycle = time.monotonic() + interval
                    self.run_once()
                else:
                    self.deliver()
            except Exception:
                # A database or provider blip must not kill the worker; the next tick retries.
                log.exception("worker cycle failed; retrying")
            stop.wait(max(0.0, min(DELIVERY_TICK_SECONDS, next_cycle - time.monotonic())))
        self.close()
        log.info("worker stopped")

    def close(self) -> None:
        self.dispatcher.close()
        close_channels(self.channels)
