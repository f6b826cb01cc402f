"""`medic worker --once`, its liveness probe and its own /metrics."""

from __future__ import annotations

import os
import time

import httpx

from tests.ops.conftest import medic, medic_env, running


def test_worker_once_touches_liveness_and_probe_reads_it(tmp_path):
    alive = tmp_path / "alive"
    env = medic_env(tmp_path, WORKER_LIVENESS_FILE=str(alive), WORKER_INTERVAL_SECONDS="15")
    assert medic("db", "upgrade", env=env).returncode == 0
    probe = medic("probe", "worker", env=env)
    assert probe.returncode != 0 and "missing" in probe.stderr
    assert medic("worker", "--once", env=env).returncode == 0
    assert medic("probe", "worker", env=env).returncode == 0
    stale = time.time() - 600
    os.utime(alive, (stale, stale))
    result = medic("probe", "worker", env=env)
    assert result.returncode != 0 and "stalled" in result.stderr


def test_worker_once_fails_loudly_without_a_database(tmp_path):
    env = medic_env(tmp_path, MEDIC_DATABASE_URL="postgresql://medic@127.0.0.1:9/none")
    result = medic("worker", "--once", env=env)
    assert result.returncode != 0 and "worker cycle failed" in result.stderr


def test_worker_serves_its_own_metrics(tmp_path, port):
    env = medic_env(
        tmp_path, WORKER_METRICS_PORT=str(port), WORKER_INTERVAL_SECONDS="1",
        WORKER_LIVENESS_FILE=str(tmp_path / "alive"),
    )
    assert medic("db", "upgrade", env=env).returncode == 0
    url = f"http://127.0.0.1:{port}/metrics"
    log = tmp_path / "worker.log"
    with running("worker", env=env, ready_url=url, stderr_path=log) as proc:
        deadline = time.monotonic() + 20
        while cycles(httpx.get(url).text) < 2:  # the count moves as the worker runs
            assert time.monotonic() < deadline, "worker cycles not counted"
            time.sleep(0.2)
    # SIGTERM lets the loop finish (deliveries record their outcome) and exit cleanly.
    assert proc.returncode == 0, log.read_text()
    assert "worker stopped" in log.read_text()


def cycles(text: str) -> float:
    for line in text.splitlines():
        if line.startswith("medic_worker_cycle_duration_seconds_count"):
            return float(line.split()[-1])
    return 0.0
