"""The gevent worker builds pywsgi's header object from the lines it has checked
instead of re-parsing them: what the app sees must be what pywsgi's own parser gives."""

from __future__ import annotations

import io

import pytest
from gevent import pywsgi

from medic.web.gevent_worker import EdgeHandler
from medic.web.http_edge import Refused

HEADS = [
    ["Host: 127.0.0.1", "Content-Type: application/json", "Content-Length: 2"],
    ["X-A:  v  ", "X-B:\tt\t", "X-Empty:", "X-C: a:b:c", "X_Under: dropped by pywsgi", "Host: h", "Host: h2"],
    ["Content-Type: text/plain; charset=utf-8", "X-Latin: caf\xe9", "Connection: close"],
    ["Transfer-Encoding: chunked", "Authorization: Bearer abc.def"],
]


def built(lines: list[str]):
    handler = EdgeHandler.__new__(EdgeHandler)
    handler.request_version = "HTTP/1.1"
    raw = ("".join(f"{line}\r\n" for line in lines) + "\r\n").encode("latin-1")
    return handler.MessageClass(io.BytesIO(raw), 0), raw


@pytest.mark.parametrize("lines", HEADS)
def test_headers_are_what_pywsgis_parser_gives(lines):
    ours, raw = built(lines)
    theirs = pywsgi.headers_factory(io.BytesIO(raw), 0)
    assert list(ours.headers) == list(theirs.headers)
    assert (ours.typeheader, ours.status) == (theirs.typeheader, theirs.status)
    for name in ("host", "content-length", "transfer-encoding", "connection", "x-empty"):
        assert ours.get(name) == theirs.get(name)
        assert ours.getheader(name) == theirs.getheader(name)
    del ours["content-length"], theirs["content-length"]  # as pywsgi does for a chunked body
    assert list(ours.headers) == list(theirs.headers)


def test_a_folded_line_is_still_refused():
    with pytest.raises(Refused):
        built(["X-A: one", " two"])
