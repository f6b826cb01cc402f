"""The gunicorn worker `medic serve` uses for WEB_WORKER_CLASS=gevent.

gunicorn's gevent worker with gevent's own WSGI server (gunicorn's ``gevent_pywsgi``)
instead of gunicorn's HTTP parser: a stored heartbeat costs about 15% less CPU in the
web process (layouts table in bench/RESULTS.md). One thing gunicorn's parser did that pywsgi does not: bound the
wait for a request's line and headers. Here a connection that sends no complete
request head within gunicorn's ``keepalive`` seconds is closed, so idle or slow
clients cannot pin the process's WEB_CONNECTIONS slots forever.

Imported by gunicorn's master as well: nothing here may import psycopg (see
medic.store.heartbeats) or patch anything (importing gevent patches nothing).
"""

from __future__ import annotations

import gevent
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler


class IdleClosingHandler(PyWSGIHandler):
    idle_seconds: float = 5.0  # set per worker from gunicorn's keepalive

    # From the wait for a request line until its headers are in, one deadline, as
    # gunicorn's own parser has: an idle connection, or a client sending its headers a
    # byte at a time, is closed after `idle_seconds`. The body and the reply are not
    # bounded by it.
    _deadline = None

    def read_requestline(self):
        self._deadline = gevent.Timeout.start_new(self.idle_seconds, TimeoutError("no request in time"))
        return super().read_requestline()  # a timeout here: pywsgi closes the connection quietly

    def read_request(self, raw_requestline):
        try:
            return super().read_request(raw_requestline)
        except TimeoutError:
            raise ValueError(f"request headers not complete within {self.idle_seconds:g} s") from None  # a 400
        finally:
            self._cancel_deadline()

    def handle_one_request(self):
        try:
            return super().handle_one_request()
        finally:
            self._cancel_deadline()  # whatever path the request took

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.close()
            self._deadline = None

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
