"""POST /heartbeat's plain-WSGI path answers exactly as the Flask route does.

Each test runs the same requests against an app with the fast path and one without
it (``create_app(..., fast_heartbeats=False)``), both over real HTTP on one database,
and compares what comes back. Flask's ``request_started`` signal tells which path
served a request.
"""

from __future__ import annotations

import contextlib
import logging

import httpx
import pytest
from flask import request_started

from medic.config import load_settings
from medic.store.engine import make_engine
from medic.web import create_app
from tests.support.server import LiveServer

VOLATILE = {"date", "server", "x-request-id"}  # differ between any two replies


@pytest.fixture
def pair(engine, clock, settings_env):
    """Start both apps with extra settings: ``with pair(ENV) as (fast, flask)``."""

    @contextlib.contextmanager
    def start(env: dict[str, str] | None = None, engine_for_apps=None):
        url = engine.url.render_as_string(hide_password=False)
        settings = load_settings({"MEDIC_DATABASE_URL": url, **settings_env, **(env or {})})
        apps = [
            create_app(settings, engine=engine_for_apps or engine, clock=clock, fast_heartbeats=fast)
            for fast in (True, False)
        ]
        with contextlib.ExitStack() as stack:
            clients = []
            for app in apps:
                live = stack.enter_context(LiveServer(app))
                client = stack.enter_context(httpx.Client(base_url=live.url, timeout=20))
                client.flask_requests = counter(app)
                clients.append(client)
            try:
                yield clients
            finally:
                for app in apps:
                    app.extensions["medic"].ingest.close()

    return start


def counter(app) -> list:
    seen: list = []

    def started(sender, **extra):
        seen.append(1)

    request_started.connect(started, app, weak=False)
    return seen


def register(client, name="svc-hb"):
    response = client.post("/service", json={"heartbeat_name": name, "service_name": "svc", "alert_interval": 5})
    assert response.status_code in (200, 201), response.text


def comparable(response: httpx.Response) -> tuple:
    body = response.json()
    if isinstance(body.get("results"), dict):
        body["results"] = {k: v for k, v in body["results"].items() if k not in ("heartbeat_id", "time")}
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VOLATILE)
    # The reset is an epoch second: two replies a second boundary apart differ by one.
    headers = [(k, "<epoch>" if k == "x-ratelimit-reset" and v.isdigit() else v) for k, v in headers]
    return response.status_code, headers, body


REQUESTS = [
    ("stored", {"json": {"heartbeat_name": "svc-hb", "status": "up"}}),
    ("extra keys", {"json": {"heartbeat_name": "SVC-HB", "status": "DEGRADED", "hostname": "a"}}),
    ("unknown name", {"json": {"heartbeat_name": "ghost", "status": "UP"}}),
    ("bad status", {"json": {"heartbeat_name": "svc-hb", "status": "SIDEWAYS"}}),
    ("missing field", {"json": {"status": "UP"}}),
    ("not json", {"content": b"{nope", "headers": {"Content-Type": "application/json"}}),
    ("array", {"json": [1, 2]}),
    ("empty", {"content": b"", "headers": {"Content-Type": "application/json"}}),
    ("form", {"data": {"heartbeat_name": "svc-hb", "status": "UP"}}),
    ("too large", {"content": b"x" * 70_000, "headers": {"Content-Type": "application/json"}}),
]


def test_every_reply_matches_the_flask_route(pair):
    with pair() as (fast, flask):
        register(fast)
        for label, kwargs in REQUESTS:
            answers = [comparable(client.post("/heartbeat", **kwargs)) for client in (fast, flask)]
            assert answers[0] == answers[1], label


def test_a_stored_heartbeat_never_enters_flask_and_is_counted(pair, caplog):
    with pair() as (fast, flask):
        register(fast)
        counts = scrape(fast)
        before = len(fast.flask_requests)
        with caplog.at_level(logging.INFO, logger="medic.access"):
            response = fast.post(
                "/heartbeat", json={"heartbeat_name": "svc-hb", "status": "UP"}, headers={"X-Request-ID": "trace-1"}
            )
        assert response.status_code == 201
        assert response.headers["X-Request-ID"] == "trace-1"
        assert len(fast.flask_requests) == before  # served without Flask
        assert fast.post("/heartbeat", json={"heartbeat_name": "ghost", "status": "UP"}).status_code == 404
        assert len(fast.flask_requests) == before  # refused by the store: still answered here
        assert fast.post("/heartbeat", json={"status": "UP"}).status_code == 400
        assert len(fast.flask_requests) == before + 1  # invalid body: Flask wrote the error
        after = scrape(fast)
    assert after[REQUESTS_201] - counts[REQUESTS_201] == 1
    assert after[REQUESTS_404] - counts[REQUESTS_404] == 1
    assert after[STORED_UP] - counts[STORED_UP] == 1


@pytest.mark.parametrize("log_stored", [False, True])
def test_stored_heartbeats_are_logged_only_if_asked_refused_ones_always(pair, caplog, log_stored):
    with pair({"LOG_STORED_HEARTBEATS": str(log_stored).lower()}) as clients:
        register(clients[0])
        for path, client in zip(("fast", "flask"), clients):
            with caplog.at_level(logging.INFO, logger="medic.access"):
                stored = client.post(
                    "/heartbeat", json={"heartbeat_name": "svc-hb", "status": "UP"}, headers={"X-Request-ID": f"ok-{path}"}
                )
                refused = client.post(
                    "/heartbeat", json={"heartbeat_name": "ghost", "status": "UP"}, headers={"X-Request-ID": f"no-{path}"}
                )
            assert (stored.status_code, refused.status_code) == (201, 404)
            logged = {r.request_id: r.status for r in caplog.records if r.name == "medic.access"}
            assert logged.get(f"no-{path}") == 404, path
            assert (f"ok-{path}" in logged) is log_stored, path
            if log_stored:
                assert logged[f"ok-{path}"] == 201
            assert stored.headers["X-Request-ID"] == f"ok-{path}"  # echoed either way


REQUESTS_201 = 'medic_http_request_duration_seconds_count{endpoint="/heartbeat",method="POST",status="201"}'
REQUESTS_404 = 'medic_http_request_duration_seconds_count{endpoint="/heartbeat",method="POST",status="404"}'
STORED_UP = 'medic_heartbeats_total{status="UP"}'


def scrape(client) -> dict[str, float]:
    """The three series above (metrics are per process, so tests compare before and after)."""
    values = dict.fromkeys((REQUESTS_201, REQUESTS_404, STORED_UP), 0.0)
    for line in client.get("/metrics").text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in values:
            values[name] = float(value)
    return values


def test_database_outage_is_the_same_503(pair):
    dead = make_engine("postgresql://medic@127.0.0.1:1/medic")
    try:
        with pair(engine_for_apps=dead) as (fast, flask):
            answers = [client.post("/heartbeat", json={"heartbeat_name": "x", "status": "UP"}) for client in (fast, flask)]
        assert answers[0].status_code == 503 and answers[0].headers["Retry-After"] == "5"
        assert comparable(answers[0]) == comparable(answers[1])
    finally:
        dead.dispose()


def test_keys_and_rate_limits_are_the_flask_routes(pair, engine, clock):
    from medic.auth import manage
    from tests.security.support import ADMIN_KEY, REQUIRED, bearer

    heartbeat_key = manage.create_key(engine, "beats", "heartbeat", clock()).key
    read_key = manage.create_key(engine, "reader", "read", clock()).key
    with pair({**REQUIRED, "MEDIC_RATE_LIMIT_HEARTBEAT": "3/minute"}) as (fast, flask):
        assert fast.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5},
                         headers=bearer(ADMIN_KEY)).status_code == 201
        beat = {"heartbeat_name": "svc-hb", "status": "UP"}
        for headers in ({}, bearer("medic_nope_nope"), bearer(read_key)):  # 401, 401, 403
            answers = [comparable(client.post("/heartbeat", json=beat, headers=headers)) for client in (fast, flask)]
            assert answers[0][0] in (401, 403) and answers[0] == answers[1]

        # One budget per key, whichever path answers; a refused name costs one unit, not two.
        before = len(fast.flask_requests)
        unknown = fast.post("/heartbeat", json={"heartbeat_name": "ghost", "status": "UP"}, headers=bearer(heartbeat_key))
        assert unknown.status_code == 404 and unknown.headers["X-RateLimit-Remaining"] == "2"
        stored = fast.post("/heartbeat", json=beat, headers=bearer(heartbeat_key))
        assert stored.status_code == 201 and stored.headers["X-RateLimit-Remaining"] == "1"
        assert len(fast.flask_requests) == before
        invalid = fast.post("/heartbeat", json={"status": "UP"}, headers=bearer(heartbeat_key))  # Flask counts this one
        assert invalid.status_code == 400 and invalid.headers["X-RateLimit-Remaining"] == "0"
        assert len(fast.flask_requests) == before + 1
        refused = fast.post("/heartbeat", json=beat, headers=bearer(heartbeat_key))
        assert refused.status_code == 429 and "rate limit exceeded" in refused.json()["message"]


def test_several_heartbeat_limits_keep_the_route_on_flask(pair):
    # Flask-Limiter alone knows how to count `2/minute;100/hour`: every heartbeat goes there.
    with pair({"MEDIC_RATE_LIMIT_HEARTBEAT": "2/minute;100/hour"}) as (fast, flask):
        register(fast)
        before = len(fast.flask_requests)
        codes = [fast.post("/heartbeat", json={"heartbeat_name": "svc-hb", "status": "UP"}).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        assert len(fast.flask_requests) == before + 3
