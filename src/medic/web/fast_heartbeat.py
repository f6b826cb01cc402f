"""POST /heartbeat in plain WSGI, in front of the Flask app.

Every heartbeat of a fleet comes through this one route, and Flask's per-request
machinery (request context, routing, hooks, response object) costs more CPU than
storing a group-committed heartbeat does (bench/RESULTS.md). This layer answers
the common case itself, with the same pieces the Flask route uses: body validation
(``decode_body``), the API-key check (``principal_for``), the shared heartbeat rate
limit, the store call (``Ingest.accept``, medic.ingest), the reply envelope, the latency metric
and the access log line.

Whatever it would refuse before storing (a body that does not validate, a missing
or refused key, a caller over its limit, a limiter that cannot be reached, a body
without Content-Length) is handed to the Flask app untouched, so those error replies
have exactly one author. Once a heartbeat has been counted against its limit, this
layer answers it itself, errors included, so nothing is counted twice.
"""

from __future__ import annotations

import io
import logging
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Callable, Iterable

from medic.auth import scopes
from medic.auth.scopes import HEARTBEAT
from medic.core.origin import write_allowed
from medic.store.errors import DATABASE_UNAVAILABLE, describe_db_error
from medic.web import access
from medic.web.api import decode_body
from medic.web.auth import principal_for, presented_key
from medic.web.envelope import UNAVAILABLE_HEADERS, UNAVAILABLE_MESSAGE, ApiError, envelope
from medic.web.schemas import HeartbeatIn
from medic.web.serialize import heartbeat_out

if TYPE_CHECKING:
    from flask import Flask

    from medic.web.context import Runtime
    from medic.web.ratelimit import HeartbeatBudget

log = logging.getLogger("medic.web")

PATH = "/heartbeat"
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class FastHeartbeat:
    """WSGI middleware: serves POST /heartbeat, passes everything else to `flask_wsgi`."""

    def __init__(self, app: "Flask", flask_wsgi: WSGIApp, rt: "Runtime", budget: "HeartbeatBudget | None"):
        self.flask_wsgi = flask_wsgi
        self.rt = rt
        self.budget = budget
        self.max_body = rt.settings.max_body_bytes
        self.write_origins = rt.settings.write_origins
        self.json = app.json

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.flask_wsgi(environ, start_response)
        with self.rt.ingest.arrivals:  # the writer waits for company only while heartbeats are in the app
            return self._heartbeat(environ, start_response)

    def _heartbeat(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return self.flask_wsgi(environ, start_response)  # chunked or missing: Flask reads it
        if not 0 <= length <= self.max_body:
            return self.flask_wsgi(environ, start_response)  # Flask answers 413
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)  # the same bytes, should Flask have to answer
        if len(raw) != length:
            return self.flask_wsgi(environ, start_response)

        if not write_allowed(environ.get("HTTP_ORIGIN"), environ.get("HTTP_HOST"), self.write_origins):
            return self.flask_wsgi(environ, start_response)  # Flask answers 403
        content_type = environ.get("CONTENT_TYPE", "")
        remote_addr = environ.get("REMOTE_ADDR")
        try:
            body = decode_body(raw, content_type.partition(";")[0].strip().lower(), HeartbeatIn)
            presented = presented_key(environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_X_API_KEY"))
            principal = principal_for(self.rt, self.rt.authenticator, HEARTBEAT, presented, f"POST {PATH}")
        except ApiError:
            return self.flask_wsgi(environ, start_response)
        if not scopes.grants(principal.scopes, HEARTBEAT):
            return self.flask_wsgi(environ, start_response)  # Flask answers 403
        headers: list[tuple[str, str]] = []
        if self.budget is not None:
            verdict = self.budget.hit(principal.rate_key or f"addr:{remote_addr or 'unknown'}")
            if verdict is None or not verdict.allowed:
                return self.flask_wsgi(environ, start_response)  # Flask answers 429, or falls back
            headers.extend(verdict.headers)

        status, message, results = self._store(body)
        if status == 503:
            headers.extend(UNAVAILABLE_HEADERS.items())
        request_id = access.request_id(environ.get("HTTP_X_REQUEST_ID"))
        payload = (self.json.dumps(envelope(results, message, status), separators=(",", ":")) + "\n").encode()
        headers[:0] = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        headers.append(("X-Request-ID", request_id))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        access.record(
            self.rt.metrics,
            log_stored_heartbeats=self.rt.settings.log_stored_heartbeats,
            method="POST",
            endpoint=PATH,
            path=PATH,
            status=status,
            elapsed=time.perf_counter() - started,
            request_id=request_id,
            remote_addr=remote_addr,
            principal=principal,
            database_unavailable=status == 503,  # _store's only 503
        )
        return [payload]

    def _store(self, body: HeartbeatIn) -> tuple[int, str, Any]:
        try:
            outcome = self.rt.ingest.accept(body.heartbeat_name, body.status)
        except DATABASE_UNAVAILABLE as exc:
            self.rt.database_failures.failed(describe_db_error(exc))
            return 503, UNAVAILABLE_MESSAGE, None
        except Exception:
            log.exception("unhandled error")
            return 500, "internal error", None
        self.rt.database_failures.succeeded()  # after an outage: one line saying it ended
        return outcome.status, outcome.message, heartbeat_out(outcome.stored) if outcome.stored else None
