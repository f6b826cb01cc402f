"""Stand-in PagerDuty, Slack and webhook servers on 127.0.0.1 for tests.

Each fake is a real HTTP server (stdlib ThreadingHTTPServer on an ephemeral port,
served from a background thread), so Medic talks to it through its normal HTTP
clients. It records every request and answers with scripted replies (consumed in
order) and then with a realistic default.

    with fake_pagerduty() as pd:
        settings = load_settings({}, pagerduty_routing_key="rk", pagerduty_events_url=pd.endpoint)
        pd.queue(Response(500), Response(429, headers={"Retry-After": "7"}))
        ...                                   # 500, then 429, then the default 202
        [req] = pd.wait_for(1)                # waits on a condition, no fixed sleep
        assert req.json["event_action"] == "trigger"

`endpoint` is the URL to configure: PAGERDUTY_EVENTS_URL, SLACK_API_URL or
MEDIC_WEBHOOK_URL respectively; `provider_env` builds the whole environment.
"""

from __future__ import annotations

import dataclasses
import itertools
import json as jsonlib
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Union
from urllib.parse import parse_qsl

__all__ = [
    "FakeProvider",
    "Headers",
    "Recorded",
    "Response",
    "fake_pagerduty",
    "fake_slack",
    "fake_webhook",
    "provider_env",
]


class Headers(dict):
    """Request headers with case-insensitive lookup (keys are stored lowercased)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__()
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            super().__setitem__(str(key).lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # includes any query string
    headers: Headers
    body: bytes
    json: Any | None  # parsed body when it is JSON
    form: dict[str, str] | None = None  # parsed body when form-encoded
    received_at: float = field(default_factory=time.time)

    @property
    def data(self) -> Any | None:
        """The parsed body, whichever encoding the client used."""
        return self.json if self.json is not None else self.form


@dataclass(frozen=True)
class Response:
    status: int = 200
    json: Any = None
    headers: Mapping[str, str] | None = None
    delay: float = 0.0  # seconds before answering, e.g. to force a client timeout
    body: bytes | None = None  # raw body instead of `json` (HTML error pages, garbage)
    drop: bool = False  # close the connection without answering


Reply = Union[Response, Callable[[Recorded], Response]]


class FakeProvider:
    """A recording HTTP server. Use as a context manager or start()/stop()."""

    def __init__(self, name: str, default: Callable[[Recorded], Response], endpoint_path: str = "/") -> None:
        self.name = name
        self._default = default
        self._endpoint_path = endpoint_path
        self._requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------

    def start(self, port: int = 0) -> FakeProvider:
        """Serve on 127.0.0.1:``port`` (default: an ephemeral port)."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", port), _Handler)
        server.provider = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=f"fake-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a `delay`
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # addresses -----------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"fake {self.name} is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """The URL to configure in Medic for this provider."""
        return self.url + self._endpoint_path

    # scripting and inspection ----------------------------------------------

    def queue(self, *responses: Reply) -> None:
        """Script the next replies, consumed in order; then the default applies.

        A reply may also be a function of the Recorded request returning a Response.
        """
        with self._cond:
            self._replies.extend(responses)

    def set_default(self, reply: Reply) -> Callable[[Recorded], Response]:
        """Replace the default reply (a Response, or a function of the request);
        returns the previous one, to put back with another set_default."""
        with self._cond:
            previous = self._default
            self._default = reply if callable(reply) else (lambda _req, r=reply: r)
            return previous

    def slow_down(self, seconds: float) -> None:
        """Answer every later request like the current default, after `seconds`."""
        with self._cond:
            default = self._default

            def slow(req: Recorded) -> Response:
                reply = default(req) if callable(default) else default
                return dataclasses.replace(reply, delay=seconds)

            self._default = slow

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._cond:
            return len(self._replies)

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot of the requests received so far, oldest first."""
        with self._cond:
            return list(self._requests)

    @property
    def bodies(self) -> list[Any]:
        """Parsed bodies (JSON or form) of the requests so far."""
        return [r.data for r in self.requests]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        """Block until at least `count` requests arrived; return them all.

        Raises AssertionError (listing what did arrive) after `timeout` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= count, timeout=timeout):
                got = [f"{r.method} {r.path}" for r in self._requests]
                raise AssertionError(
                    f"fake {self.name}: expected at least {count} request(s) within {timeout}s, "
                    f"got {len(got)}: {got}"
                )
            return list(self._requests)

    def clear(self) -> None:
        """Forget recorded requests (scripted replies stay queued)."""
        with self._cond:
            self._requests.clear()

    def reset(self) -> None:
        """Forget recorded requests and drop scripted replies."""
        with self._cond:
            self._requests.clear()
            self._replies.clear()

    # called from handler threads -------------------------------------------

    def _record(self, recorded: Recorded) -> Response:
        with self._cond:
            self._requests.append(recorded)
            reply = self._replies.popleft() if self._replies else self._default
            self._cond.notify_all()
        return reply(recorded) if callable(reply) else reply

    def _sleep(self, seconds: float) -> bool:
        """Wait up to `seconds`; False when the server is stopping meanwhile."""
        return not self._stopping.wait(seconds)

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<FakeProvider {self.name} {where} requests={len(self._requests)}>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    provider: FakeProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are part of the tests, not failures.
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "medic-fake/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Skip trailers up to the blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        provider = self.server.provider
        body = self._read_body()
        headers = Headers(self.headers.items())
        parsed_json: Any = None
        form = None
        content_type = (headers.get("content-type") or "").lower()
        if body:
            if "application/x-www-form-urlencoded" in content_type:
                form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            else:
                try:
                    parsed_json = jsonlib.loads(body)
                except ValueError:
                    parsed_json = None
        recorded = Recorded(self.command, self.path, headers, body, parsed_json, form)
        reply = provider._record(recorded)

        if reply.delay and not provider._sleep(reply.delay):
            self.close_connection = True
            return
        if reply.drop:
            self.close_connection = True
            return

        if reply.body is not None:
            payload = reply.body
            default_type = "application/octet-stream"
        elif reply.json is not None:
            payload = jsonlib.dumps(reply.json).encode("utf-8")
            default_type = "application/json"
        else:
            payload = b""
            default_type = "text/plain"
        extra = dict(reply.headers or {})
        try:
            self.send_response(reply.status)
            if not any(k.lower() == "content-type" for k in extra):
                self.send_header("Content-Type", default_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in extra.items():
                self.send_header(key, str(value))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (ConnectionError, TimeoutError):
            self.close_connection = True


# providers ------------------------------------------------------------------

PAGERDUTY_SEVERITIES = {"critical", "error", "warning", "info"}
PAGERDUTY_ACTIONS = {"trigger", "acknowledge", "resolve"}


def _pagerduty_invalid(errors: list[str]) -> Response:
    return Response(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})


def fake_pagerduty(validate: bool = True) -> FakeProvider:
    """PagerDuty Events API v2. Default: 202 echoing the dedup_key posted.

    With `validate`, events PagerDuty would reject get its 400 answer, so a
    malformed event fails a test instead of passing silently.
    """

    def default(req: Recorded) -> Response:
        event = req.json
        if validate:
            if not isinstance(event, dict):
                return _pagerduty_invalid(["Body must be a JSON object"])
            errors = []
            if not isinstance(event.get("routing_key"), str) or not event.get("routing_key"):
                errors.append("'routing_key' is missing or blank")
            action = event.get("event_action")
            if action not in PAGERDUTY_ACTIONS:
                errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
            if action in ("acknowledge", "resolve") and not event.get("dedup_key"):
                errors.append("'dedup_key' is required for acknowledge and resolve")
            if action == "trigger":
                inner = event.get("payload")
                if not isinstance(inner, dict):
                    errors.append("'payload' is missing")
                else:
                    for key in ("summary", "source"):
                        if not isinstance(inner.get(key), str) or not inner.get(key):
                            errors.append(f"'payload.{key}' is missing or blank")
                    if inner.get("severity") not in PAGERDUTY_SEVERITIES:
                        errors.append("'payload.severity' is invalid")
            if errors:
                return _pagerduty_invalid(errors)
        dedup_key = (event or {}).get("dedup_key") if isinstance(event, dict) else None
        return Response(
            202,
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key or uuid.uuid4().hex},
        )

    return FakeProvider("pagerduty", default, endpoint_path="/v2/enqueue")


def fake_slack(token: str | None = None, history_scope: bool = True) -> FakeProvider:
    """Slack Web API: chat.postMessage, conversations.history and conversations.replies.

    Every posted message gets a fresh, increasing ts and is kept (with its
    metadata) for the history methods, which answer newest first and show
    metadata only with include_all_metadata. Like Slack it answers `not_authed`
    without a bearer token, `invalid_auth` when `token` is given and differs,
    `channel_not_found` without a channel and `no_text` without text or blocks;
    without `history_scope` the history methods answer `missing_scope`. Other
    methods answer `unknown_method`.
    """
    epoch = int(time.time())
    counter = itertools.count(1)
    lock = threading.Lock()
    posted: list[dict] = []

    def next_ts() -> str:
        with lock:
            return f"{epoch}.{next(counter):06d}"

    def history(method: str, query: dict[str, str]) -> Response:
        if not history_scope:
            return Response(200, {"ok": False, "error": "missing_scope", "needed": "channels:history"})
        with lock:
            messages = [dict(m) for m in posted if m["channel"] == query.get("channel")]
        if method == "conversations.replies":
            root = query.get("ts")
            messages = [m for m in messages if m["ts"] == root or m.get("thread_ts") == root]
        else:
            messages = [m for m in messages if not m.get("thread_ts") or m.get("reply_broadcast")]
        messages.reverse()
        for message in messages:
            message.pop("channel")
            message.pop("reply_broadcast", None)
            if query.get("include_all_metadata") not in ("1", "true", "True"):
                message.pop("metadata", None)
        limit = int(query.get("limit") or 100)
        return Response(200, {"ok": True, "messages": messages[:limit], "has_more": len(messages) > limit})

    def default(req: Recorded) -> Response:
        path, _, query_string = req.path.partition("?")
        method = path.rsplit("/", 1)[-1]
        if method not in ("chat.postMessage", "conversations.history", "conversations.replies"):
            return Response(200, {"ok": False, "error": "unknown_method"})
        auth = req.headers.get("authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return Response(200, {"ok": False, "error": "not_authed"})
        if token is not None and auth[7:].strip() != token:
            return Response(200, {"ok": False, "error": "invalid_auth"})
        if method != "chat.postMessage":
            # slack_sdk sends these arguments as a form body; Slack also takes a query string.
            return history(method, {**dict(parse_qsl(query_string)), **(req.form or {})})
        data = req.data if isinstance(req.data, dict) else {}
        channel = data.get("channel")
        if not channel:
            return Response(200, {"ok": False, "error": "channel_not_found"})
        if not data.get("text") and not data.get("blocks"):
            return Response(200, {"ok": False, "error": "no_text"})
        ts = next_ts()
        message = {"type": "message", "text": data.get("text"), "ts": ts}
        if data.get("thread_ts"):
            message["thread_ts"] = data["thread_ts"]
        with lock:
            posted.append(
                {**message, "channel": channel, "metadata": data.get("metadata"), "reply_broadcast": data.get("reply_broadcast")}
            )
        return Response(200, {"ok": True, "channel": channel, "ts": ts, "message": message})

    return FakeProvider("slack", default, endpoint_path="/api/")


def fake_webhook() -> FakeProvider:
    """A webhook receiver. Default: 200 {}."""
    return FakeProvider("webhook", lambda _req: Response(200, {}), endpoint_path="/hook")


def provider_env(
    pagerduty: FakeProvider | None = None,
    slack: FakeProvider | None = None,
    webhook: FakeProvider | None = None,
    *,
    routing_key: str = "test-routing-key",
    slack_token: str = "xoxb-test-token",
    slack_channel: str = "C0MEDICTEST",
    webhook_secret: str | None = "test-webhook-secret",
) -> dict[str, str]:
    """Environment variables pointing Medic at the given fakes (others left unset)."""
    env: dict[str, str] = {}
    if pagerduty is not None:
        env["PAGERDUTY_ROUTING_KEY"] = routing_key
        env["PAGERDUTY_EVENTS_URL"] = pagerduty.endpoint
    if slack is not None:
        env["SLACK_API_TOKEN"] = slack_token
        env["SLACK_CHANNEL_ID"] = slack_channel
        env["SLACK_API_URL"] = slack.endpoint
    if webhook is not None:
        env["MEDIC_WEBHOOK_URL"] = webhook.endpoint
        if webhook_secret:
            env["MEDIC_WEBHOOK_SECRET"] = webhook_secret
    return env
