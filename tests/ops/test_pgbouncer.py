"""Medic behind PgBouncer in transaction mode: each transaction may run on another
server connection, so nothing may outlive a transaction (no prepared statements,
only transaction-scoped advisory locks and SET LOCAL)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from medic.store.engine import make_engine
from medic.worker.cleanup import run_cleanup
from medic.worker.loop import Worker
from tests.fakes.providers import provider_env
from tests.ops.conftest import free_port
from tests.support.databases import postgres_engine

PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)


@pytest.fixture
def backend(request) -> str:
    if PGBOUNCER is None:
        pytest.skip("needs Debian's pgbouncer")
    from tests.conftest import POSTGRES_URL

    if not POSTGRES_URL:
        pytest.skip("needs PostgreSQL (MEDIC_TEST_DATABASE_URL)")
    return "postgresql"


@pytest.fixture
def engine(backend):
    """The suite's PostgreSQL database (migrated, emptied), reached through PgBouncer
    with two server connections, so consecutive transactions change connection."""
    # pytest's tmp_path is private to root, and pgbouncer refuses to run as root
    tmp_path = Path(tempfile.mkdtemp(prefix="medic-pgbouncer-"))
    os.chmod(tmp_path, 0o777)
    direct = postgres_engine()
    url = direct.url
    port = free_port()
    (tmp_path / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"medic = host={url.host or '127.0.0.1'} port={url.port or 5432} dbname={url.database} user={url.username or 'postgres'}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 100\n"
        f"logfile = {tmp_path / 'pgbouncer.log'}\npidfile = {tmp_path / 'pgbouncer.pid'}\n"
    )
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([PGBOUNCER, *user, str(tmp_path / "pgbouncer.ini")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                log = tmp_path / "pgbouncer.log"
                raise RuntimeError(f"pgbouncer did not start: {log.read_text() if log.exists() else proc.returncode}")
            time.sleep(0.1)
    through = make_engine(f"postgresql://postgres@127.0.0.1:{port}/medic", prepared_statements=False)
    yield through
    through.dispose()
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def settings_env(pagerduty) -> dict[str, str]:
    return {**provider_env(pagerduty), "MEDIC_DATABASE_PREPARED_STATEMENTS": "false"}


def test_heartbeats_alerts_and_cleanup_through_pgbouncer(engine, settings, api, clock, pagerduty):
    assert api.post("/service", json={"heartbeat_name": "behind-pgbouncer", "service_name": "db",
                                      "alert_interval": 1}).status_code == 201
    # psycopg prepares a statement on its sixth run; each heartbeat is its own transaction
    for _ in range(30):
        assert api.post("/heartbeat", json={"heartbeat_name": "behind-pgbouncer", "status": "UP"}).status_code == 201
    assert len(api.get("/heartbeat", params={"heartbeat_name": "behind-pgbouncer"}).json()["results"]) == 30

    worker = Worker(settings, engine, clock=clock, run_daily_cleanup=False)
    try:
        clock.advance(minutes=2)
        for _ in range(6):
            worker.run_once()
        worker.deliver()
    finally:
        worker.close()
    assert [r.json["event_action"] for r in pagerduty.requests] == ["trigger"]

    clock.advance(days=40)
    counts = run_cleanup(engine, settings, clock=clock)  # advisory locks, partitions
    assert counts["heartbeat_events"] == 30
