"""The worker loop: every WORKER_INTERVAL_SECONDS, one cycle."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from medic.clock import Clock, utcnow
from medic.config import Settings
from medic.metrics import process_metrics
from medic.store import worker_state as ws

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.worker")


class Worker:
    def __init__(self, settings: Settings, engine: "Engine", *, clock: Clock = utcnow, liveness_file: str | None = None):
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.liveness_file = Path(liveness_file) if liveness_file else None
        self.metrics = process_metrics()

    def run_once(self) -> None:
        """One cycle; raises on failure so callers decide how to survive it."""
        started = time.perf_counter()
        now = self.clock()
        with self.engine.begin() as conn:
            ws.put(conn, ws.LAST_CYCLE, now.isoformat(), now)
        self.metrics.worker_cycle.observe(time.perf_counter() - started)
        if self.liveness_file is not None:
            self.liveness_file.touch()

    def run_forever(self, stop: threading.Event) -> None:
        interval = self.settings.worker_interval_seconds
        log.info("worker started; cycle every %ss", interval)
        while not stop.is_set():
            cycle_started = time.monotonic()
            try:
                self.run_once()
            except Exception:
                # A database blip must not kill the worker; the next cycle retries.
                log.exception("worker cycle failed; retrying next cycle")
            stop.wait(max(0.0, interval - (time.monotonic() - cycle_started)))
        log.info("worker stopped")
