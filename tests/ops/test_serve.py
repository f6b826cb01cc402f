"""`medic serve` as deployed: several gunicorn processes, metrics summed across them,
JSON access logs with request ids."""

from __future__ import annotations

import json

import httpx

from tests.ops.conftest import medic, medic_env, running


def scrape_total(base: str) -> float:
    total = 0.0
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith("medic_heartbeats_total{"):
            total += float(line.split()[-1])
    return total


def test_metrics_are_exact_across_gunicorn_processes(tmp_path, port):
    env = medic_env(tmp_path, PORT=str(port), WEB_CONCURRENCY="3", WEB_THREADS="4", LOG_FORMAT="json")
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
