"""The gunicorn worker `medic serve` uses for WEB_WORKER_CLASS=gevent.

gunicorn's gevent worker with gevent's own WSGI server (gunicorn's ``gevent_pywsgi``)
instead of gunicorn's HTTP parser: a stored heartbeat costs about 15% less CPU in the
web process (layouts table in bench/RESULTS.md). One thing gunicorn's parser did that pywsgi does not: close a
keep-alive connection left idle. Here an idle connection is closed after gunicorn's
``keepalive`` seconds, so clients that keep connections open cannot pin the
process's WEB_CONNECTIONS slots forever.

Imported by gunicorn's master as well: nothing here may import psycopg (see
medic.store.heartbeats) or patch anything.
"""

from __future__ import annotations

from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler


class IdleClosingHandler(PyWSGIHandler):
    idle_seconds: float = 5.0  # set per worker from gunicorn's keepalive

    def read_requestline(self):
        # Only the wait for the next request line is bounded: a slow body or a large
        # reply to a slow reader is not cut off by this. A timeout here surfaces as a
        # socket error, on which pywsgi closes the connection quietly.
        self.socket.settimeout(self.idle_seconds)
        try:
            return super().read_requestline()
        finally:
            self.socket.settimeout(None)

    def log_request(self):
        # `medic serve` turns gunicorn's access log off (Medic writes its own lines):
        # skip building the record gunicorn would only discard.
        if self.server.log.cfg.accesslog:
            super().log_request()


class GeventWSGIWorker(GeventPyWSGIWorker):
    def init_process(self) -> None:
        self.wsgi_handler = type("Handler", (IdleClosingHandler,), {"idle_seconds": float(self.cfg.keepalive)})
        super().init_process()


# What gunicorn's --worker-class / cfg.worker_class takes for this worker.
WORKER_CLASS = f"{__name__}.{GeventWSGIWorker.__name__}"
