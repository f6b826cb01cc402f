"""The HTTP edge: which request heads the server layers accept, and what they answer
when they refuse one.

Both server layers Medic ships parse requests themselves before the app sees them:
gevent's WSGI server under `medic serve` (medic.web.gevent_worker) and waitress under
`medic run` (medic.web.waitress_server). Left to themselves, they disagree with each
other and with proxies about where a body ends (Content-Length next to
Transfer-Encoding, two Content-Lengths, folded headers), which is how a request is
smuggled inside another one's body. These checks are the one rule for both: a head
whose framing is not exactly one of the two unambiguous forms of RFC 9112 (one
Content-Length of digits, or Transfer-Encoding: chunked alone) is refused with a 400
and the connection is closed, so nothing after it on that connection is read.

Refusals are the API's JSON envelope, and one structured log line without a traceback.
Imported by gunicorn's master as well (through medic.web.gevent_worker): no psycopg.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus

from medic.web.envelope import envelope

log = logging.getLogger("medic.http")

MAX_REQUEST_LINE = 8192  # bytes, as gevent's and gunicorn's own parsers bound it
MAX_HEADER_LINE = 8190
MAX_HEADERS = 100

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: methods and field names
_TARGET = re.compile(r"[\x21-\x7e\x80-\xff]+")  # no spaces or control characters
_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in a field value; tab is allowed


class Refused(ValueError):
    """A request the edge will not serve. A ValueError: gevent's server treats it as
    the client's error (a reply and a closed connection, never a traceback)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def request_line_too_long() -> Refused:
    return Refused(414, f"request line too long: the limit is {MAX_REQUEST_LINE} bytes")


def check_request_line(line: str) -> str:
    """The request's HTTP version ('HTTP/1.0' or 'HTTP/1.1'); Refused for anything else.
    `line` is latin-1 text, with or without its line ending."""
    line = line.removesuffix("\n").removesuffix("\r")
    if len(line) >= MAX_REQUEST_LINE:
        raise request_line_too_long()
    parts = line.split(" ")
    if len(parts) == 2 and _TOKEN.fullmatch(parts[0]):
        raise Refused(400, "HTTP/0.9 requests are not supported: send 'METHOD /path HTTP/1.1'")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
        raise Refused(400, f"malformed request line {_shown(line)}: expected 'METHOD /path HTTP/1.1'")
    version = _VERSION.fullmatch(parts[2])
    if version is None:
        raise Refused(400, f"malformed HTTP version {_shown(parts[2])}")
    if version.group(1) != "1":
        raise Refused(505, f"HTTP version {parts[2]} is not supported: use HTTP/1.1 or HTTP/1.0")
    return parts[2]


def check_headers(version: str, lines: list[str]) -> None:
    """Refused unless every header line is well formed and the body's framing is unambiguous.
    `lines` are the raw header lines (latin-1 text) without their line endings."""
    if len(lines) > MAX_HEADERS:
        raise Refused(431, f"too many header fields: the limit is {MAX_HEADERS}")
    lengths: list[str] = []
    codings: list[str] = []
    for line in lines:
        if len(line) > MAX_HEADER_LINE:
            raise Refused(431, f"header line too long: the limit is {MAX_HEADER_LINE} bytes")
        if line[:1] in (" ", "\t"):
            # obs-fold: a proxy may read the continuation as a header of its own.
            raise Refused(400, f"folded header line {_shown(line)}: header values must be on one line")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):  # also whitespace before the colon
            raise Refused(400, f"malformed header line {_shown(line)}: expected 'Name: value'")
        value = value.strip(" \t")
        if _CONTROL.search(value):
            raise Refused(400, f"header {name} contains a control character")
        if name.lower() == "content-length":
            lengths.append(value)
        elif name.lower() == "transfer-encoding":
            codings.extend(part.strip(" \t").lower() for part in value.split(","))
    if codings and lengths:
        raise Refused(400, "both Content-Length and Transfer-Encoding: the body's length is ambiguous")
    if codings:
        if version != "HTTP/1.1":
            raise Refused(400, f"Transfer-Encoding is not allowed in an {version} request")
        if codings != ["chunked"]:
            raise Refused(400, f"Transfer-Encoding must be exactly 'chunked', not {_shown(', '.join(codings))}")
    if len(lengths) > 1:
        raise Refused(400, "more than one Content-Length header")
    if lengths and not _CONTENT_LENGTH.fullmatch(lengths[0]):
        raise Refused(400, f"Content-Length must be a number of bytes, not {_shown(lengths[0])}")


def split_head(head: bytes) -> tuple[str, list[str]]:
    """A request head (request line and header lines, without the blank line) as text lines."""
    first, *lines = head.decode("latin-1").split("\n")
    return first.removesuffix("\r"), [line.removesuffix("\r") for line in lines if line not in ("", "\r")]


def error_body(status: int, message: str) -> bytes:
    return (json.dumps(envelope(None, message, status), separators=(",", ":")) + "\n").encode()


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def error_headers(body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")]


def error_response(status: int, message: str) -> bytes:
    """A whole HTTP/1.1 reply, for a server layer that writes its refusal to the socket itself."""
    body = error_body(status, message)
    head = "".join(f"{k}: {v}\r\n" for k, v in error_headers(body))
    return f"HTTP/1.1 {status_line(status)}\r\n{head}\r\n".encode("latin-1") + body


_SLASHES = re.compile(r"//+")


def canonical_paths(wsgi_app):
    """WSGI middleware: runs of slashes in the path collapse to one, so `//heartbeat`
    (a base URL with a trailing slash) is served as `/heartbeat`, and every layer
    after this one (the heartbeat fast path, routing, scopes, rate limits, the access
    log) sees the one canonical path instead of werkzeug's HTML redirect for some."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if "//" in path:
            environ["PATH_INFO"] = _SLASHES.sub("/", path)
        return wsgi_app(environ, start_response)

    return app


def log_refusal(status: int, message: str, remote_addr: str | None) -> None:
    log.warning("request refused: %d %s", status, message, extra={"status": status, "remote_addr": remote_addr})
