"""An injectable clock: tests move time instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


class FakeClock:
    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 1, 5, 12, 0, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


class RunningClock(FakeClock):
    """A fake clock that also moves with real time: for tests where real sends
    take real seconds and leases must expire (or not) as they would."""

    def __init__(self, start: datetime | None = None):
        super().__init__(start)
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return super().__call__() + timedelta(seconds=time.monotonic() - self._origin)
