"""The gunicorn worker `medic serve` uses for WEB_WORKER_CLASS=gevent.

gunicorn's gevent worker with gevent's own WSGI server (gunicorn's ``gevent_pywsgi``)
instead of gunicorn's HTTP parser: a stored heartbeat costs about 15% less CPU in the
web process (layouts table in bench/RESULTS.md). One thing gunicorn's parser did that pywsgi does not: bound the
wait for a request's line and headers. Here a connection that sends no complete
request head within gunicorn's ``keepalive`` seconds is closed, so idle or slow
clients cannot pin the process's WEB_CONNECTIONS slots forever.

The handler also holds the request head to medic.web.http_edge's rules (pywsgi's
own parser accepts Content-Length next to Transfer-Encoding, folded and malformed
header lines, and HTTP/0.9), and makes every reply and log line of its own the API's
JSON and Medic's logging instead of pywsgi's plain text on stderr.

Imported by gunicorn's master as well: nothing here may import psycopg (see
medic.store.heartbeats) or patch anything (importing gevent patches nothing).
"""

from __future__ import annotations

import logging
import socket

import gevent
from gevent import pywsgi
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler

from medic.web import http_edge
from medic.web.http_edge import Refused

log = logging.getLogger("medic.http")


class EdgeHandler(PyWSGIHandler):
    idle_seconds: float = 5.0  # set per worker from gunicorn's keepalive

    # From the wait for a request line until its headers are in, one deadline, as
    # gunicorn's own parser has: an idle connection, or a client sending its headers a
    # byte at a time, is closed after `idle_seconds`. The body and the reply are not
    # bounded by it.
    _deadline = None

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            # pywsgi writes a refusal (a 400 for a malformed request) outside its own
            # error handling: a client already gone would otherwise end the greenlet
            # with an exception gevent's hub prints as a traceback.
            pass

    def read_requestline(self):
        self._deadline = gevent.Timeout.start_new(self.idle_seconds, TimeoutError("no request in time"))
        return super().read_requestline()  # a timeout here: pywsgi closes the connection quietly

    def read_request(self, raw_requestline):
        try:
            http_edge.check_request_line(raw_requestline)
            return super().read_request(raw_requestline)  # reads the headers with MessageClass
        except TimeoutError:
            raise Refused(400, f"request headers not complete within {self.idle_seconds:g} s") from None
        finally:
            self._cancel_deadline()

    def handle_one_request(self):
        try:
            result = super().handle_one_request()
        finally:
            self._cancel_deadline()  # whatever path the request took
        if isinstance(result, tuple) and result[0] == "414":  # pywsgi's own check of the line's length
            return self._refuse(http_edge.request_line_too_long())
        return result

    def MessageClass(self, fp, *args):
        """The headers, read line by line and checked before pywsgi's parser (the
        stdlib's email parser, which folds, merges and skips what it does not
        understand) sees them."""
        lines = []
        while True:
            raw = fp.readline(http_edge.MAX_HEADER_LINE + 3)
            if raw in (b"\r\n", b"\n"):
                break
            if not raw.endswith(b"\n"):
                if len(raw) > http_edge.MAX_HEADER_LINE:
                    raise Refused(431, f"header line too long: the limit is {http_edge.MAX_HEADER_LINE} bytes")
                raise Refused(400, "the connection ended inside the request head")
            lines.append(raw.decode("latin-1").removesuffix("\n").removesuffix("\r"))
            if len(lines) > http_edge.MAX_HEADERS:
                break  # check_headers refuses it
        http_edge.check_headers(self.request_version, lines)
        # Checked lines are plain "Name: value": they go straight into pywsgi's header
        # object, as its parser would store them, without a second pass through the
        # stdlib's email parser (20 us a request there, under 2 us here).
        headers = pywsgi.OldMessage()
        for line in lines:
            name, _, value = line.partition(":")
            headers[name] = value.lstrip(" \t")
        return headers

    def handle_one_response(self):
        super().handle_one_response()
        if getattr(self.wsgi_input, "_chunked_input_error", False):
            # A chunked body that broke off mid-way, and the app answered anyway: where
            # the next request starts is unknown, so none is read from this connection.
            self.close_connection = True

    # pywsgi answers a request it cannot parse through these hooks; each answer is a
    # JSON envelope and closes the connection.
    _refused: Refused | None = None

    def _handle_client_error(self, ex):
        if not isinstance(ex, Refused):
            # pywsgi's own findings: a bad chunked body, an unreadable request line.
            ex = Refused(400, f"malformed request: {str(ex) or type(ex).__name__}")
        return self._refuse(ex)

    def _refuse(self, refusal: Refused):
        self._refused = refusal
        http_edge.log_refusal(refusal.status, refusal.message, self._remote_addr())
        return str(refusal.status), http_edge.error_response(refusal.status, refusal.message)

    def _send_error_response_if_possible(self, error_code):
        # After the app ran: a 400 for a body that broke off (see _handle_client_error), or a 500.
        if self.response_length:
            self.close_connection = True
            return
        refused = self._refused if error_code == 400 and self._refused else Refused(500, "internal error")
        body = http_edge.error_body(refused.status, refused.message)
        try:
            self.start_response(http_edge.status_line(refused.status), http_edge.error_headers(body))
            self.write(body)
        except socket.error:
            self.close_connection = True

    def _log_error(self, t, v, tb):
        # An unexpected error in the server layer: one line naming it, no traceback.
        if not issubclass(t, gevent.GreenletExit):
            log.error("server error while serving a request: %s", t.__name__, extra={"remote_addr": self._remote_addr()})

    def log_error(self, msg, *args):
        log.warning(msg, *args, extra={"remote_addr": self._remote_addr()})

    def _remote_addr(self) -> str | None:
        address = self.client_address
        return str(address[0]) if isinstance(address, tuple) else None

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.close()
            self._deadline = None

    def log_request(self):
        # `medic serve` turns gunicorn's access log off (Medic writes its own lines):
        # skip building the record gunicorn would only discard.
        if self.server.log.cfg.accesslog:
            super().log_request()


def _log_greenlet_error(context, t, v, tb) -> None:
    """gevent's hub prints a greenlet's uncaught exception to stderr as a traceback,
    around the log; it becomes one log line instead (medic.logs)."""
    log.error("a greenlet failed", exc_info=(t, v, tb))


class GeventWSGIWorker(GeventPyWSGIWorker):
    def init_process(self) -> None:
        self.wsgi_handler = type("Handler", (EdgeHandler,), {"idle_seconds": float(self.cfg.keepalive)})
        gevent.get_hub().print_exception = _log_greenlet_error  # what the hub prints errors with
        super().init_process()


# What gunicorn's --worker-class / cfg.worker_class takes for this worker.
WORKER_CLASS = f"{__name__}.{GeventWSGIWorker.__name__}"
