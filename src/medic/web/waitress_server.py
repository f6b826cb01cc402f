"""`medic run`'s HTTP server: waitress, holding request heads to medic.web.http_edge's
rules and answering its own refusals in the API's JSON envelope.

waitress on its own reads a body as chunked when Content-Length is also present and
then keeps the connection open (whatever follows the last chunk runs as the next
request), merges folded header lines and serves HTTP/0.9; its refusals are plain text.
"""

from __future__ import annotations

import waitress
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import Error, InternalServerError, RequestEntityTooLarge

from medic.web import http_edge
from medic.web.http_edge import Refused


class _Refusal(Error):
    """A refusal from http_edge, in the form waitress's error task expects."""

    def __init__(self, refused: Refused):
        super().__init__(refused.message)
        self.code = refused.status
        self.reason = http_edge.status_line(refused.status).partition(" ")[2]


class _Parser(HTTPRequestParser):
    _refused: Refused | None = None

    def parse_header(self, header_plus: bytes) -> None:
        line, lines = http_edge.split_head(header_plus)
        try:
            version = http_edge.check_request_line(line)
            http_edge.check_headers(version, lines)
        except Refused as exc:
            self._refused = exc
            raise ParsingError(exc.message) from None  # waitress stops reading this connection
        super().parse_header(header_plus)

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self._refused is not None:
            self.error = _Refusal(self._refused)  # keep the status (414, 431, 505), not just 400
        return consumed


class _JsonErrorTask(ErrorTask):
    def execute(self) -> None:
        error = self.request.error
        if isinstance(error, RequestEntityTooLarge):
            message = f"request body too large: the limit is {self.channel.server.max_body_bytes} bytes"
        elif isinstance(error, InternalServerError):
            message = "internal error"  # waitress's own text may carry a traceback
        else:
            message = error.body
        http_edge.log_refusal(error.code, message, self.channel.addr[0] if self.channel.addr else None)
        body = http_edge.error_body(error.code, message)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(http_edge.error_headers(body)[:2])  # waitress adds Connection: close
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    parser_class = _Parser
    error_task_class = _JsonErrorTask


def create_server(app, *, max_body_bytes: int, **adjustments) -> BaseWSGIServer:
    """waitress's server for `app`. waitress reads a chunked body whole before the app
    sees it, so it stops one far over `max_body_bytes` while it arrives; it counts the
    chunks' framing too, so its bound is looser and the app checks the exact limit."""
    bound = 2 * max_body_bytes + 4096
    server = waitress.create_server(app, max_request_body_size=bound, **adjustments)
    assert isinstance(server, BaseWSGIServer), "one listening address"
    server.channel_class = _Channel  # read for each accepted connection
    server.max_body_bytes = max_body_bytes
    return server
