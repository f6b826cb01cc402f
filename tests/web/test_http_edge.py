"""The HTTP edge, over raw sockets against the real server processes: `medic serve`
(gunicorn with Medic's gevent worker) and `medic run` (waitress).

A request whose body framing is ambiguous is refused with a JSON 400 and the
connection is closed, so a request hidden in its body never runs; every reply the
server layer writes itself is the JSON envelope; its log lines are JSON."""

from __future__ import annotations

import json
import uuid

import pytest

from medic.web import http_edge
from tests.ops.conftest import free_port, medic, medic_env, running
from tests.support.databases import BACKENDS, POSTGRES_URL, postgres_engine
from tests.support.rawhttp import Exchange, chunked, exchange, json_request, request

SERVERS = [(kind, backend) for kind in ("serve", "run") for backend in BACKENDS]


@pytest.fixture(scope="module", params=SERVERS, ids=[f"{b}-{k}" for k, b in SERVERS])
def edge(request, tmp_path_factory):
    """A running server: (kind, port, path of its stderr)."""
    kind, backend = request.param
    tmp = tmp_path_factory.mktemp(f"edge-{kind}-{backend}")
    port = free_port()
    env = {k: v for k, v in medic_env(tmp).items() if not k.startswith("WEB_")}
    env.update(PORT=str(port), LOG_FORMAT="json", WEB_WORKER_CLASS="gevent", WEB_CONCURRENCY="1")
    if backend == "postgresql":
        postgres_engine()  # migrated and emptied
        env["MEDIC_DATABASE_URL"] = POSTGRES_URL
    else:
        assert medic("db", "upgrade", env=env).returncode == 0
    log = tmp / "server.log"
    with running(kind, env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=log):
        if kind == "serve":
            assert "Using worker: medic.web.gevent_worker.GeventWSGIWorker" in log.read_text()
        yield kind, port, log


@pytest.fixture
def service(edge) -> str:
    """A fresh, unmuted service; its heartbeat_name."""
    name = f"edge-{uuid.uuid4().hex[:10]}"
    body = {"heartbeat_name": name, "service_name": name, "alert_interval": 5}
    assert exchange(edge[1], json_request("POST", "/service", body, [("Connection", "close")])).only.status == 201
    return name


def get_service(port: int, name: str) -> dict:
    reply = exchange(port, request("GET", f"/service/{name}", [("Connection", "close")])).only
    assert reply.status == 200, reply.body
    return reply.json()["results"][0]


def heartbeat_count(port: int, name: str) -> int:
    reply = exchange(port, request("GET", f"/heartbeat?heartbeat_name={name}", [("Connection", "close")])).only
    return len(reply.json()["results"])


def assert_json_error(reply, status: int, *words: str) -> None:
    assert reply.status == status, (reply.status, reply.body)
    assert reply.header("content-type") == "application/json", reply.headers
    body = reply.json()
    assert body["success"] is False and body["results"] is None, body
    for word in words:
        assert word in body["message"], body["message"]


def assert_refused(ex: Exchange, status: int, *words: str) -> None:
    """One JSON refusal, then the connection closed: nothing after it was read."""
    assert_json_error(ex.only, status, *words)
    assert ex.closed, "the connection stayed open after the refusal"


def head(*lines: str) -> bytes:
    return ("\r\n".join(["POST /heartbeat HTTP/1.1", "Host: medic", "Content-Type: application/json", *lines]) + "\r\n\r\n").encode()


def beat(name: str) -> bytes:
    return json.dumps({"heartbeat_name": name, "status": "UP"}).encode()


def mute(name: str) -> bytes:
    return json_request("POST", f"/service/{name}", {"muted": True})


# --------------------------------------------------------------------------
# Item 3: request smuggling. Each request below hides `POST /service/<name>
# {"muted": true}` where one reading of its framing sees a body and another
# sees a second request.
# --------------------------------------------------------------------------


def _cl_and_te(name: str) -> bytes:
    hidden = mute(name)
    return head(f"Content-Length: {5 + len(hidden)}", "Transfer-Encoding: chunked") + b"0\r\n\r\n" + hidden


def _te_and_cl(name: str) -> bytes:
    hidden = mute(name)
    return head("Transfer-Encoding: chunked", f"Content-Length: {5 + len(hidden)}") + b"0\r\n\r\n" + hidden


def _two_lengths(name: str) -> bytes:
    body, hidden = beat(name), mute(name)
    return head(f"Content-Length: {len(body)}", f"Content-Length: {len(body) + len(hidden)}") + body + hidden


def _coding(value: str):
    def build(name: str) -> bytes:
        return head(f"Transfer-Encoding: {value}") + chunked(beat(name)) + mute(name)

    return build


def _two_te_headers(name: str) -> bytes:
    return head("Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + chunked(beat(name)) + mute(name)


def _te_in_http_1_0(name: str) -> bytes:
    data = head("Transfer-Encoding: chunked", "Connection: keep-alive").replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    return data + chunked(beat(name)) + mute(name)


def _length(value: str):
    def build(name: str) -> bytes:
        body = beat(name)
        return head(f"Content-Length: {value.replace('N', str(len(body)))}") + body + mute(name)

    return build


def _folded_te(name: str) -> bytes:
    # A proxy that reads the folded line as a header of its own sees a chunked body.
    body = beat(name)
    return head("X-Note: hi", " Transfer-Encoding: chunked", f"Content-Length: {len(body)}") + body + mute(name)


def _folded_length(name: str) -> bytes:
    body = beat(name)
    return head("Content-Length:", f" {len(body)}") + body + mute(name)


def _space_before_colon(name: str) -> bytes:
    body = beat(name)
    return head("Transfer-Encoding : chunked", f"Content-Length: {len(body)}") + body + mute(name)


SMUGGLING = {
    "content-length-and-chunked": (_cl_and_te, "both Content-Length and Transfer-Encoding"),
    "chunked-and-content-length": (_te_and_cl, "both Content-Length and Transfer-Encoding"),
    "two-differing-content-lengths": (_two_lengths, "more than one Content-Length"),
    "te-chunked-identity": (_coding("chunked, identity"), "exactly 'chunked'"),
    "te-identity": (_coding("identity"), "exactly 'chunked'"),
    "te-gzip-chunked": (_coding("gzip, chunked"), "exactly 'chunked'"),
    "te-chunked-twice": (_two_te_headers, "exactly 'chunked'"),
    "te-in-http-1.0": (_te_in_http_1_0, "HTTP/1.0"),
    "content-length-plus": (_length("+N"), "Content-Length must be a number"),
    "content-length-list": (_length("N, N"), "Content-Length must be a number"),
    "content-length-negative": (_length("-N"), "Content-Length must be a number"),
    "obs-fold-transfer-encoding": (_folded_te, "folded header line"),
    "obs-fold-content-length": (_folded_length, "folded header line"),
    "space-before-colon": (_space_before_colon, "malformed header line"),
}


@pytest.mark.parametrize("case", SMUGGLING)
def test_ambiguous_framing_is_refused_and_the_hidden_request_never_runs(edge, service, case):
    build, words = SMUGGLING[case]
    ex = exchange(edge[1], build(service))
    assert_refused(ex, 400, words)
    assert get_service(edge[1], service)["muted"] == 0
    assert heartbeat_count(edge[1], service) == 0  # the refused request did not run either


def test_a_second_request_framed_plainly_does_run(edge, service):
    # The control for the test above: a heartbeat, then the mute, on one connection.
    body = beat(service)
    ex = exchange(edge[1], head(f"Content-Length: {len(body)}") + body + mute(service))
    assert [r.status for r in ex.replies] == [201, 200]
    assert get_service(edge[1], service)["muted"] == 1


@pytest.mark.parametrize("coding", ["chunked", "Chunked"])
def test_a_chunked_body_alone_is_accepted(edge, service, coding):
    ex = exchange(edge[1], head(f"Transfer-Encoding: {coding}", "Connection: close") + chunked(beat(service), size=7))
    assert ex.only.status == 201, ex.only.body
    assert heartbeat_count(edge[1], service) == 1


def test_a_chunked_body_that_breaks_off_closes_the_connection(edge, service):
    ex = exchange(edge[1], head("Transfer-Encoding: chunked") + b"zz\r\n" + mute(service))
    assert_json_error(ex.replies[0], 400)
    assert ex.closed and len(ex.replies) == 1, [(r.status, r.body[:80]) for r in ex.replies]
    assert get_service(edge[1], service)["muted"] == 0


# --------------------------------------------------------------------------
# Item 5: every reply JSON, every log line structured
# --------------------------------------------------------------------------

EDGE_REPLIES = {
    "long-request-line": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: medic\r\n\r\n", 414, "request line too long"),
    "long-query": (b"GET /service?x=" + b"a" * 20000 + b" HTTP/1.1\r\nHost: medic\r\n\r\n", 414, "request line too long"),
    "header-without-colon": (b"GET /health HTTP/1.1\r\nHost: medic\r\nNoColonHere\r\n\r\n", 400, "malformed header line"),
    "control-character-in-value": (b"GET /health HTTP/1.1\r\nHost: medic\r\nX-A: a\x01b\r\n\r\n", 400, "control character"),
    "http-0.9": (b"GET /health\r\n\r\n", 400, "HTTP/0.9"),
    "garbage-request-line": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "malformed request line"),
    "unknown-version": (b"GET /health HTTP/7.1\r\nHost: medic\r\n\r\n", 505, "HTTP/7.1"),
    "too-many-headers": (
        b"GET /health HTTP/1.1\r\nHost: medic\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n",
        431,
        "too many header fields",
    ),
    "long-header-line": (b"GET /health HTTP/1.1\r\nHost: medic\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n", 431, "header line too long"),
}


@pytest.mark.parametrize("case", EDGE_REPLIES)
def test_the_server_layer_refuses_in_the_json_envelope(edge, case):
    data, status, words = EDGE_REPLIES[case]
    assert_refused(exchange(edge[1], data), status, words)


def test_a_chunked_body_over_the_limit_is_413(edge, service):
    body = b'{"heartbeat_name": "%s", "status": "UP", "pad": "%s"}' % (service.encode(), b"x" * 70_000)
    ex = exchange(edge[1], head("Transfer-Encoding: chunked", "Connection: close") + chunked(body))
    assert_json_error(ex.replies[0], 413, "too large", "65536")
    assert heartbeat_count(edge[1], service) == 0


def test_a_chunked_body_of_exactly_the_limit_is_accepted(edge, service):
    body = beat(service)
    body += b" " * (64 * 1024 - len(body))
    ex = exchange(edge[1], head("Transfer-Encoding: chunked", "Connection: close") + chunked(body))
    assert ex.only.status == 201, ex.only.body
    assert heartbeat_count(edge[1], service) == 1


@pytest.mark.parametrize("path", ["//service/{name}", "/service//{name}", "/service/{name}//", "///service//{name}"])
def test_repeated_slashes_are_served_as_the_collapsed_path(edge, service, path):
    reply = exchange(edge[1], request("GET", path.format(name=service), [("Connection", "close")])).only
    assert reply.status == 200, (reply.status, reply.header("location"), reply.body[:80])
    assert reply.header("content-type") == "application/json"
    assert reply.json()["results"][0]["heartbeat_name"] == service


def test_a_heartbeat_to_a_doubled_slash_is_stored(edge, service):
    payload = {"heartbeat_name": service, "status": "UP"}
    reply = exchange(edge[1], json_request("POST", "//heartbeat", payload, [("Connection", "close")])).only
    assert reply.status == 201, reply.body
    assert heartbeat_count(edge[1], service) == 1


def test_the_server_layer_logs_json_lines_without_tracebacks(edge):
    port, log = edge[1], edge[2]
    for data, _, _ in EDGE_REPLIES.values():
        exchange(port, data)
    exchange(port, _cl_and_te("nobody"))
    exchange(port, request("GET", "/health/live", [("Connection", "close")]))  # a line after the refusals
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert not [line for line in lines if "Traceback" in line]
    refused = [r for r in records if r["logger"] == "medic.http"]
    statuses = {r["status"] for r in refused}
    assert {400, 414, 431, 505} <= statuses, refused
    assert all(r["remote_addr"] == "127.0.0.1" and r["message"].startswith("request refused: ") for r in refused)


# --------------------------------------------------------------------------
# The rule itself (medic.web.http_edge), without a server
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        [],
        ["Host: medic", "Content-Length: 0"],
        ["Host: medic", "Content-Length: 39 "],  # spaces around a value are not part of it
        ["Host: medic", "transfer-encoding: Chunked"],
        ["Host: medic", "X-Empty:", "X-Tab: a\tb"],
    ],
)
def test_the_rule_accepts_plain_framing(lines):
    http_edge.check_headers("HTTP/1.1", lines)


@pytest.mark.parametrize(
    "line,version",
    [("GET / HTTP/1.1", "HTTP/1.1"), ("POST /heartbeat HTTP/1.0\r\n", "HTTP/1.0"), ("GET /a?b=c HTTP/1.1\n", "HTTP/1.1")],
)
def test_the_rule_reads_the_version_of_a_request_line(line, version):
    assert http_edge.check_request_line(line) == version


def test_two_equal_content_lengths_are_refused_too():
    # RFC 9112 allows folding them into one; refusing is simpler and no client sends them.
    with pytest.raises(http_edge.Refused, match="more than one Content-Length"):
        http_edge.check_headers("HTTP/1.1", ["Content-Length: 5", "Content-Length: 5"])
