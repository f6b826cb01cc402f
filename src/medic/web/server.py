"""`medic serve`: the Flask app under gunicorn."""

from __future__ import annotations

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from medic.config import Settings
from medic.web.gevent_worker import WORKER_CLASS as GEVENT_WORKER


def _child_exit(server, worker) -> None:
    # Drop a dead process's live gauges from the multiprocess metric files.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _worker_exit(server, worker) -> None:
    # Store the heartbeats still queued for a group commit before the process goes.
    app = getattr(worker, "wsgi", None)
    runtime = getattr(app, "extensions", {}).get("medic")
    if runtime is not None and runtime.ingest is not None:
        runtime.ingest.close()


def worker_class(settings: Settings) -> str:
    """gevent on PostgreSQL: a heartbeat waiting for its group commit costs a greenlet,
    not a thread, and handing it to the writer is a switch, not a GIL handoff (measured
    in bench/RESULTS.md); psycopg and redis-py cooperate with gevent's patching. gthread
    on SQLite, whose calls cannot yield: a wait for the file lock would stall every
    request of the process, where under gthread it stalls one thread."""
    chosen = settings.web_worker_class
    if chosen == "auto":
        chosen = "gthread" if settings.database_url.startswith("sqlite") else "gevent"
    return GEVENT_WORKER if chosen == "gevent" else chosen


class GunicornLogger(glogging.Logger):
    """Send gunicorn's own lines through Medic's handlers, so every line has one format."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


class MedicGunicorn(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        self.cfg.set("bind", f"{s.host}:{s.port}")
        self.cfg.set("workers", s.web_concurrency)
        self.cfg.set("worker_class", worker_class(s))
        self.cfg.set("worker_connections", s.web_connections)
        self.cfg.set("threads", s.web_threads)
        self.cfg.set("timeout", 30)
        self.cfg.set("graceful_timeout", 20)
        self.cfg.set("keepalive", s.web_keepalive_seconds)
        self.cfg.set("child_exit", _child_exit)
        self.cfg.set("worker_exit", _worker_exit)
        self.cfg.set("accesslog", None)  # Medic logs its own access lines with request ids
        self.cfg.set("logger_class", GunicornLogger)

    def load(self):
        from medic.web import create_app

        return create_app(self.settings)


def serve(settings: Settings) -> None:
    MedicGunicorn(settings).run()
