"""`medic serve` as deployed: several gunicorn processes, metrics summed across them,
JSON access logs with request ids, the worker class chosen for the database (gevent
on PostgreSQL, gthread on SQLite)."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select, text

from medic.store.tables import heartbeat_events, services
from medic.web.gevent_worker import WORKER_CLASS as GEVENT_WORKER
from tests.ops.conftest import medic, medic_env, running
from tests.support.databases import POSTGRES_URL


def scrape_total(base: str) -> float:
    total = 0.0
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith("medic_heartbeats_total{"):
            total += float(line.split()[-1])
    return total


def test_metrics_are_exact_across_gunicorn_processes(tmp_path, port):
    env = medic_env(
        tmp_path, PORT=str(port), WEB_CONCURRENCY="3", WEB_THREADS="4", LOG_FORMAT="json", LOG_STORED_HEARTBEATS="true"
    )
    assert medic("db", "upgrade", env=env).returncode == 0
    base = f"http://127.0.0.1:{port}"
    stderr = tmp_path / "serve.log"
    with running("serve", env=env, ready_url=f"{base}/health/live", stderr_path=stderr):
        with httpx.Client(base_url=base, timeout=10) as client:
            client.post("/service", json={"heartbeat_name": "mp-hb", "service_name": "mp", "alert_interval": 5})
            sent = 60
            for _ in range(sent):
                assert client.post("/heartbeat", json={"heartbeat_name": "mp-hb", "status": "UP"}).status_code == 201
            # Each scrape lands on any of the three processes; every one must see all of them.
            assert [scrape_total(base) for _ in range(6)] == [float(sent)] * 6
            rid = client.get("/health", headers={"X-Request-ID": "trace-me-123"}).headers["X-Request-ID"]
            assert rid == "trace-me-123"

    lines = [line for line in stderr.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is valid JSON
    access = [r for r in records if r.get("logger") == "medic.access"]
    assert len(access) >= sent
    traced = [r for r in access if r.get("request_id") == "trace-me-123"]
    assert traced and traced[0]["path"] == "/health" and traced[0]["status"] == 200
    assert all({"time", "level", "message"} <= set(r) for r in records)


def test_bad_configuration_stops_at_start_naming_the_variable(tmp_path):
    result = medic("serve", env=medic_env(tmp_path, WORKER_INTERVAL_SECONDS="soon"))
    assert result.returncode != 0
    assert "WORKER_INTERVAL_SECONDS" in result.stderr


# --------------------------------------------------------------------------
# Worker class: gevent on PostgreSQL, gthread on SQLite (medic.web.server.worker_class)
# --------------------------------------------------------------------------

# Runs on PostgreSQL only: skipped, like every PostgreSQL test, without MEDIC_TEST_DATABASE_URL.
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "backend",
    [pytest.param("postgresql", marks=pytest.mark.skipif(not POSTGRES_URL, reason="MEDIC_TEST_DATABASE_URL is not set"))],
)


def _serve_env(engine, tmp_path, port: int, **extra: str) -> dict[str, str]:
    """`medic serve`'s defaults except `extra`, whatever WEB_* the test run's shell sets."""
    url = engine.url.render_as_string(hide_password=False)
    env = {k: v for k, v in medic_env(tmp_path).items() if not k.startswith("WEB_")}
    return {**env, "MEDIC_DATABASE_URL": url, "PORT": str(port), **extra}


def _heartbeat_ids(engine, heartbeat_name: str) -> list[int]:
    query = (
        select(heartbeat_events.c.heartbeat_id)
        .join(services, services.c.service_id == heartbeat_events.c.service_id)
        .where(services.c.heartbeat_name == heartbeat_name)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def _wait_for(condition, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@POSTGRESQL_ONLY
def test_gevent_process_keeps_serving_while_a_heartbeat_waits_on_the_database(engine, tmp_path, port):
    # One process: whatever answers /health/live below is the process whose heartbeat is blocked.
    env = _serve_env(engine, tmp_path, port, WEB_CONCURRENCY="1")
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with running("serve", env=env, ready_url=f"{base}/health/live", stderr_path=log):
        assert f"Using worker: {GEVENT_WORKER}" in log.read_text()
        with httpx.Client(base_url=base, timeout=10) as client:
            created = client.post("/service", json={"heartbeat_name": "gevent-hb", "service_name": "gevent", "alert_interval": 5})
            assert created.status_code == 201, created.text

        with engine.connect() as locker, ThreadPoolExecutor(max_workers=1) as pool:
            try:
                locker.execute(text("LOCK TABLE services IN ACCESS EXCLUSIVE MODE"))  # held until rollback
                beat = pool.submit(
                    httpx.post, f"{base}/heartbeat", json={"heartbeat_name": "gevent-hb", "status": "UP"}, timeout=60
                )

                def heartbeat_waits_on_the_lock() -> bool:
                    waiting = locker.execute(
                        text(
                            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                            "WHERE c.relname = 'services' AND NOT l.granted AND l.pid <> pg_backend_pid()"
                        )
                    ).scalar_one()
                    return waiting > 0

                _wait_for(heartbeat_waits_on_the_lock, "the heartbeat to wait for the services lock")
                assert not beat.done(), beat.result().text

                # The process's only worker has a request stuck in psycopg; it must still serve.
                live = httpx.get(f"{base}/health/live", timeout=5)
                assert live.status_code == 200
                assert not beat.done(), "the heartbeat did not wait for the lock"
            finally:
                locker.rollback()

            reply = beat.result(timeout=30)
        assert reply.status_code == 201, reply.text
        heartbeat_id = reply.json()["results"]["heartbeat_id"]
    assert _heartbeat_ids(engine, "gevent-hb") == [heartbeat_id]


def test_concurrent_heartbeats_are_all_stored_across_processes(engine, backend, tmp_path, port):
    expected_worker = GEVENT_WORKER if backend == "postgresql" else "gthread"
    env = _serve_env(engine, tmp_path, port, WEB_CONCURRENCY="2")
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    sent = 64
    with running("serve", env=env, ready_url=f"{base}/health/live", stderr_path=log):
        assert f"Using worker: {expected_worker}" in log.read_text()
        with httpx.Client(base_url=base, timeout=10) as client:
            created = client.post("/service", json={"heartbeat_name": "burst-hb", "service_name": "burst", "alert_interval": 5})
            assert created.status_code == 201, created.text

        def beat(_: int) -> httpx.Response:
            return httpx.post(f"{base}/heartbeat", json={"heartbeat_name": "burst-hb", "status": "UP"}, timeout=60)

        with ThreadPoolExecutor(max_workers=32) as pool:
            replies = list(pool.map(beat, range(sent)))
    assert [r.status_code for r in replies] == [201] * sent, [r.text for r in replies if r.status_code != 201][:3]
    ids = {r.json()["results"]["heartbeat_id"] for r in replies}
    assert len(ids) == sent
    assert sorted(_heartbeat_ids(engine, "burst-hb")) == sorted(ids)
    assert log.read_text().count("Booting worker") == 2


@POSTGRESQL_ONLY
def test_gevent_process_keeps_a_connection_alive_then_closes_it_when_idle(engine, tmp_path, port):
    env = _serve_env(engine, tmp_path, port, WEB_CONCURRENCY="1", WEB_KEEPALIVE_SECONDS="1")
    request = b"GET /health/live HTTP/1.1\r\nHost: medic\r\n\r\n"
    log = tmp_path / "serve.log"
    with running("serve", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=log):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            replies = sock.makefile("rb")
            for _ in range(2):  # two requests on one connection: it is kept alive
                sock.sendall(request)
                assert replies.readline().startswith(b"HTTP/1.1 200"), "no reply on the kept-alive connection"
                length = 0
                while (line := replies.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                replies.read(length)
            idle_since = time.monotonic()
            assert replies.read(1) == b"", "the server sent more than its replies"  # blocks until the server closes
            idle = time.monotonic() - idle_since
    assert 0.5 < idle < 20, idle  # closed for being idle (1 s), not by the client's 30 s timeout


@POSTGRESQL_ONLY
def test_gevent_process_closes_a_connection_whose_headers_trickle_in(engine, tmp_path, port):
    env = _serve_env(engine, tmp_path, port, WEB_CONCURRENCY="1", WEB_KEEPALIVE_SECONDS="1")
    log = tmp_path / "serve.log"
    with running("serve", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=log):
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: medic\r\n")
            started, ended, answer = time.monotonic(), None, b""
            for _ in range(75):  # a header byte every 0.2 s for up to 15 s
                try:
                    sock.sendall(b"X")
                    answer = sock.recv(1024)
                except socket.timeout:
                    continue  # still open, nothing said
                except OSError:
                    answer = b""  # reset by the server
                ended = time.monotonic() - started
                break
    assert ended is not None, "a client trickling its headers kept the connection for 15 s"
    assert 0.5 < ended < 10, ended
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:60]


@POSTGRESQL_ONLY
def test_a_refused_request_whose_client_is_gone_is_no_traceback(engine, tmp_path, port):
    # The gevent worker answers a malformed request with a 400; a client that reset the
    # connection first makes that write fail, which must not reach gevent's hub (it
    # prints a traceback to stderr, around the log handler).
    import struct

    env = _serve_env(engine, tmp_path, port, WEB_CONCURRENCY="1", LOG_FORMAT="json")
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with running("serve", env=env, ready_url=f"{base}/health/live", stderr_path=log):
        assert f"Using worker: {GEVENT_WORKER}" in log.read_text()
        for _ in range(10):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
                sock.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        time.sleep(1)
        assert httpx.get(f"{base}/health/live", timeout=5).status_code == 200
    text = log.read_text()
    assert "Traceback" not in text and '  File "' not in text and "failed with" not in text, text[-2000:]
    assert all(line.startswith("{") for line in text.splitlines() if line.strip()), text[-2000:]
