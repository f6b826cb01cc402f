"""The web mark: every web process moves one shared row (worker_state ``web_mark``)
to "now" every few seconds, so the worker knows until when heartbeats could be
received, and a web process that starts after a silence records it as a gap
(core/gaps.py; docs/alerting.md, "When Medic itself was down").

It runs in a thread of its own (a greenlet under gevent), started by ``create_app``,
which gunicorn calls in each of its processes, ``medic run`` once; so the fast path,
the Flask routes and every server share it, and no request waits for it.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from medic.clock import Clock
from medic.core.gaps import WEB_MARK_SECONDS, Gap, GapCause
from medic.logs import RepeatedFailure
from medic.store import gaps
from medic.store.errors import DATABASE_ERROR, describe_db_error

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("medic.web")


class WebMark:
    def __init__(self, engine: "Engine", clock: Clock, gap_seconds: float, every: float = WEB_MARK_SECONDS):
        self.engine = engine
        self.clock = clock
        self.gap_seconds = gap_seconds
        self.every = every
        self._failing = False  # this process's last mark failed on the database
        # Logged when the marks start failing, once a minute while they do, and when one is written again.
        self._failures = RepeatedFailure(log, f"web mark not written (retried every {every:g} s): database error")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self) -> Gap | None:
        """Mark now; returns the gap this mark ended and recorded, if any."""
        try:
            with self.engine.begin() as conn:
                # A process whose marks failed knows the silence was the database's.
                gap = gaps.mark_web(conn, self.clock(), self.gap_seconds,
                                    GapCause.DATABASE if self._failing else GapCause.WEB)
        except DATABASE_ERROR as exc:
            self._failures.failed(describe_db_error(exc))
            self._failing = True
            return None
        self._failures.succeeded()
        self._failing = False
        if gap is not None:
            log.warning("gap recorded: heartbeats could not be received from %s to %s (%d s, cause %s)",
                        gap.start.isoformat(), gap.end.isoformat(), round(gap.seconds), gap.cause)
        return gap

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="medic-web-mark", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.write()
            except Exception:  # never let the mark die quietly: the worker would hold every page
                log.exception("web mark failed unexpectedly; retrying")
            self._stop.wait(self.every)
