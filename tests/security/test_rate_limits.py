"""Rate limits over real HTTP: separate heartbeat and API budgets, per key or address,
429 envelopes with Retry-After and X-RateLimit-*, window reset, Redis shared storage."""

from __future__ import annotations

import socket
import time
import types
import uuid

import pytest

import flask_limiter._extension
import limits.storage.memory
from tests.security.support import ADMIN_KEY, REQUIRED, bearer

LIMITED = {**REQUIRED, "MEDIC_RATE_LIMIT_HEARTBEAT": "3/minute", "MEDIC_RATE_LIMIT_API": "5/minute"}
BEAT = {"heartbeat_name": "svc-hb", "status": "UP"}


@pytest.fixture
def limiter_time(monkeypatch, clock):
    """Flask-Limiter's in-memory counters read time.time(); tie them to the test clock."""
    fake = types.SimpleNamespace(time=lambda: clock().timestamp(), mktime=time.mktime)
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(flask_limiter._extension, "time", fake)
    return clock


def assert_429(response, limit: int) -> dict:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False and "rate limit exceeded" in body["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    return body


def test_heartbeat_limit_is_hit_and_resets(serve, registered, make_key, limiter_time):
    key = make_key("write")
    with serve(LIMITED) as client:
        for remaining in (2, 1, 0):
            response = client.post("/heartbeat", json=BEAT, headers=bearer(key))
            assert response.status_code == 201
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert response.headers["X-RateLimit-Remaining"] == str(remaining)
            assert "Retry-After" not in response.headers  # only on 429s
        body = assert_429(client.post("/heartbeat", json=BEAT, headers=bearer(key)), 3)
        assert "heartbeat requests per API key" in body["message"]
        assert int(client.post("/heartbeat", json=BEAT, headers=bearer(key)).headers["Retry-After"]) <= 61  # window, rounded up

        # Management calls have their own budget.
        assert client.get("/service", headers=bearer(key)).status_code == 200

        limiter_time.advance(seconds=61)
        assert client.post("/heartbeat", json=BEAT, headers=bearer(key)).status_code == 201


def test_a_refused_request_changes_nothing(serve, registered, make_key, limiter_time):
    key = make_key("write")
    with serve(LIMITED) as client:
        for _ in range(5):
            client.get("/service", headers=bearer(key))
        assert_429(client.post("/service/svc-hb", json={"muted": True}, headers=bearer(key)), 5)
        limiter_time.advance(seconds=61)
        assert client.get("/service/svc-hb", headers=bearer(key)).json()["results"][0]["muted"] == 0


def test_limits_are_per_key(serve, registered, make_key, limiter_time):
    first, second = make_key("heartbeat"), make_key("heartbeat")
    with serve(LIMITED) as client:
        for _ in range(3):
            assert client.post("/heartbeat", json=BEAT, headers=bearer(first)).status_code == 201
        assert_429(client.post("/heartbeat", json=BEAT, headers=bearer(first)), 3)
        assert client.post("/heartbeat", json=BEAT, headers=bearer(second)).status_code == 201
        assert client.post("/heartbeat", json=BEAT, headers=bearer(ADMIN_KEY)).status_code == 201


def test_anonymous_callers_are_limited_by_address(serve, registered, limiter_time):
    with serve({**LIMITED, "MEDIC_ANONYMOUS_HEARTBEATS": "true"}) as client:
        for _ in range(3):
            assert client.post("/heartbeat", json=BEAT).status_code == 201
        body = assert_429(client.post("/heartbeat", json=BEAT), 3)
        assert "per client address" in body["message"]


def test_refused_keys_count_against_the_address(serve, limiter_time):
    with serve(LIMITED) as client:
        for _ in range(5):
            assert client.get("/service", headers=bearer("medic_guess")).status_code == 401
        assert_429(client.get("/service", headers=bearer("medic_guess")), 5)


def test_open_routes_are_never_limited(serve, limiter_time):
    with serve({**LIMITED, "MEDIC_RATE_LIMIT_API": "1/minute"}) as client:
        for _ in range(5):
            response = client.get("/health/live")
            assert response.status_code == 200
            assert "X-RateLimit-Limit" not in response.headers


def test_limits_can_be_disabled(serve, registered, make_key):
    key = make_key("heartbeat")
    with serve({**LIMITED, "MEDIC_RATE_LIMIT_ENABLED": "false"}) as client:
        for _ in range(6):
            response = client.post("/heartbeat", json=BEAT, headers=bearer(key))
            assert response.status_code == 201
            assert "X-RateLimit-Limit" not in response.headers


def test_a_503_keeps_its_own_retry_after(serve, make_key):
    # Flask-Limiter stamps Retry-After with its window reset; a 503 must keep its short hint.
    with serve(LIMITED) as client:
        @client.app.get("/boom")
        def boom():
            from medic.web.envelope import reply

            return reply(None, "database unavailable", 503, {"Retry-After": "5"})

        response = client.get("/boom", headers=bearer(ADMIN_KEY))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_redis_shares_counters_between_processes(serve, registered, make_key):
    key = make_key("heartbeat")  # a fresh key id: its counter in Redis starts at zero
    env = {**LIMITED, "REDIS_URL": "redis://127.0.0.1:6379/0", "MEDIC_RATE_LIMIT_HEARTBEAT": "4/hour"}
    with serve(env) as one, serve(env) as two:
        assert one.post("/heartbeat", json=BEAT, headers=bearer(key)).status_code == 201
        assert two.post("/heartbeat", json=BEAT, headers=bearer(key)).status_code == 201
        assert one.post("/heartbeat", json=BEAT, headers=bearer(key)).status_code == 201
        assert two.post("/heartbeat", json=BEAT, headers=bearer(key)).status_code == 201
        assert_429(one.post("/heartbeat", json=BEAT, headers=bearer(key)), 4)
        assert_429(two.post("/heartbeat", json=BEAT, headers=bearer(key)), 4)


def test_unreachable_redis_does_not_fail_requests(serve, registered, make_key):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = make_key("heartbeat", name=f"k-{uuid.uuid4().hex[:6]}")
    env = {**LIMITED, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    with serve(env) as client:
        # Falls back to per-process memory counters: still limited, never a 500.
        statuses = [client.post("/heartbeat", json=BEAT, headers=bearer(key)).status_code for _ in range(4)]
        assert statuses == [201, 201, 201, 429]
