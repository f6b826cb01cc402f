"""The group-commit writer: one per process, storing the heartbeats of concurrent requests
in one transaction and one commit.

Requests hand their heartbeat to the writer (a thread, or a greenlet under gevent)
and wait; the writer stores whatever has queued up in one batch and wakes each
request only after the commit. Under load, one commit serves many requests. On
PostgreSQL the writer waits up to 1 ms for company, and only while heartbeat
requests it has not got yet are inside the app (``Arrivals``) or it has fewer than the
last batch held (a steady load's clients send their next heartbeat as soon as they are
answered); on SQLite a lone heartbeat waits for nobody. A 201 still means committed.

Failures stay per request: a database outage fails every heartbeat of the batch
(503 each), a deadlock retries the batch (medic.ingest.transactions), any other
error retries each heartbeat alone so one bad heartbeat cannot fail its neighbours.
Unknown or inactive names are ordinary per-heartbeat results, never batch failures.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Sequence

from medic.clock import Clock
from medic.ingest.arrivals import Arrivals
from medic.ingest.transactions import BatchCommitter, Result, commit_once
from medic.store.errors import DATABASE_UNAVAILABLE
from medic.store.heartbeats import Beat, Stored

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.ingest")

# Upper bound of heartbeats per transaction (the batch is usually far smaller:
# about the number of requests in flight in this process).
MAX_BATCH = 256
# A writer with nothing to do for this long exits; the next heartbeat starts a new one.
IDLE_SECONDS = 5.0
POSTGRESQL_LINGER_SECONDS = 0.001


class _Waiting:
    __slots__ = ("beat", "done", "result", "error")

    def __init__(self, beat: Beat):
        self.beat = beat
        self.done = threading.Event()
        self.result: Stored | str | None = None
        self.error: BaseException | None = None

    def resolve(self, result=None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


_STOP = object()


class GroupCommitWriter:
    """A ``BeatStore``: heartbeats of concurrent requests share one transaction and one commit."""

    def __init__(
        self,
        engine: "Engine",
        clock: Clock,
        *,
        arrivals: Arrivals | None = None,
        max_batch: int = MAX_BATCH,
        idle_seconds: float = IDLE_SECONDS,
        linger_seconds: float | None = None,
    ):
        self.engine = engine
        self.clock = clock
        self.arrivals = arrivals if arrivals is not None else Arrivals()
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.transactions = BatchCommitter(engine, clock)
        # How long the writer waits for company after the first heartbeat of a batch,
        # at most: it stops as soon as every heartbeat request in the app is in the batch
        # (`arrivals`). PostgreSQL: 1 ms. Its batch is a single round trip, and a writer
        # that wrote whatever had queued the moment it came back gave, under gevent, p99
        # of 56-136 ms at 16 connections where 1 ms gave 13-23 (bench/RESULTS.md).
        # SQLite: none, measured best; a lone heartbeat never waits there.
        if linger_seconds is None:
            linger_seconds = POSTGRESQL_LINGER_SECONDS if self.transactions.autocommit else 0.0
        self.linger_seconds = linger_seconds
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        # How many heartbeats the last batch held. Under a steady load the requests it
        # answered come straight back with their next heartbeats, before the app counts
        # them in ``arrivals``: the linger waits for as many (bounded by linger_seconds).
        self._last_batch = 1

    def submit(self, beat: Beat) -> Stored | str:
        waiting = _Waiting(beat)
        with self._lock:
            if self._closed:
                return commit_once(self.engine, [beat], self.clock())[0]  # shutting down: no writer to wait for
            self._ensure_writer()
            self._queue.put(waiting)
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error
        return waiting.result

    def close(self) -> None:
        """Store everything already submitted, then stop the writer."""
        with self._lock:
            self._closed = True
            writer = self._writer if self._pid == os.getpid() else None
            if writer is not None:
                self._queue.put(_STOP)
        if writer is not None:
            writer.join(timeout=30)

    def write(self, beats: Sequence[Beat]) -> list[Result]:
        """One batch, committed (medic.ingest.transactions)."""
        return self.transactions.commit(beats)

    def _ensure_writer(self) -> None:
        # Called with the lock held. A process forked after the app was built (gunicorn
        # without preload keeps this from happening, but be safe) has no writer thread,
        # and the parent's connection is not its to use.
        if self._pid != os.getpid():
            self._pid, self._writer, self._queue = os.getpid(), None, queue.SimpleQueue()
            self.transactions = BatchCommitter(self.engine, self.clock)
        if self._writer is None:
            self._writer = threading.Thread(target=self._run, name="medic-ingest", daemon=True)
            self._writer.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # nothing slipped in: let this writer go
                        self._writer = None
                        self.transactions.close()
                        return
                continue
            if first is _STOP:
                self.transactions.close()
                return
            batch = [first]
            stop = False
            until = time.monotonic() + self.linger_seconds
            expected = self._last_batch
            while len(batch) < self.max_batch:
                try:
                    # Whatever has queued goes in; waiting for more only makes sense while
                    # heartbeat requests that have not queued yet are inside the app, or
                    # while the last batch's clients may still be sending their next.
                    wait = until - time.monotonic()
                    if wait > 0 and len(batch) < max(self.arrivals.count, expected):
                        item = self._queue.get(timeout=wait)
                    else:
                        item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._last_batch = len(batch)
            self._flush(batch)
            if stop:
                self._drain()
                self.transactions.close()
                return

    def _drain(self) -> None:
        rest = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                rest.append(item)
        for start in range(0, len(rest), self.max_batch):
            self._flush(rest[start : start + self.max_batch])

    def _flush(self, batch: list[_Waiting]) -> None:
        try:
            self._store(batch)
        except BaseException as exc:  # never leave a request waiting
            log.exception("heartbeat writer failed")
            for waiting in batch:
                if not waiting.done.is_set():
                    waiting.resolve(error=exc)

    def _store(self, batch: list[_Waiting]) -> None:
        try:
            results = self.write([waiting.beat for waiting in batch])
        except DATABASE_UNAVAILABLE as exc:
            for waiting in batch:
                waiting.resolve(error=exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                batch[0].resolve(error=exc)
                return
            # Something in the batch is bad: find out which, alone.
            for waiting in batch:
                self._store([waiting])
            return
        for waiting, result in zip(batch, results):
            if isinstance(result, Exception):
                waiting.resolve(error=result)  # stored, but its deadline could not be recounted
            else:
                waiting.resolve(result)
