"""Job routes with API keys required: signals need the heartbeat scope, stats and
runs the read scope; the CLI sends its key."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from click.testing import CliRunner

from medic.auth import manage
from medic.cli import main

ADMIN_KEY = "test-admin-" + secrets.token_hex(16)


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_AUTH": "required", "MEDIC_ADMIN_API_KEY": ADMIN_KEY}


@pytest.fixture
def key(engine, clock):
    def make(scopes: str) -> str:
        return manage.create_key(engine, f"jobs-{scopes}-{secrets.token_hex(2)}", scopes, clock(), None).key

    return make


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def registered(api):
    response = api.post(
        "/service", json={"heartbeat_name": "nightly", "service_name": "batch", "alert_interval": 60},
        headers=bearer(ADMIN_KEY),
    )
    assert response.status_code == 201, response.text


def test_signals_need_the_heartbeat_scope(api, registered, key):
    cron = bearer(key("heartbeat"))
    for action in ("start", "complete", "fail"):
        assert api.post(f"/v2/heartbeat/nightly/{action}", headers=cron).status_code == 201
    for path in ("/v2/services/nightly/stats", "/v2/services/nightly/runs"):
        response = api.get(path, headers=cron)
        assert response.status_code == 403 and "'read' scope" in response.json()["message"]


def test_stats_and_runs_need_the_read_scope(api, registered, key):
    reader = bearer(key("read"))
    assert api.get("/v2/services/nightly/stats", headers=reader).status_code == 200
    assert api.get("/v2/services/nightly/runs", headers=reader).status_code == 200
    response = api.post("/v2/heartbeat/nightly/start", headers=reader)
    assert response.status_code == 403 and "'heartbeat' scope" in response.json()["message"]


def test_without_a_key_signals_are_401_and_record_nothing(api, registered):
    response = api.post("/v2/heartbeat/nightly/fail", json={"message": "x"})
    assert response.status_code == 401
    runs = api.get("/v2/services/nightly/runs", headers=bearer(ADMIN_KEY)).json()["results"]
    assert runs == []


def test_cli_commands_send_their_key(api, registered, key, server):
    cron_key = key("heartbeat")
    result = CliRunner().invoke(main, ["heartbeat", "nightly", "--url", server.url, "--api-key", cron_key])
    assert result.exit_code == 0, result.output
    refused = CliRunner().invoke(main, ["heartbeat", "nightly", "--url", server.url])
    assert refused.exit_code == 1 and "HTTP 401" in refused.output

    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIC_")}
    env = {**clean, "MEDIC_BASE_URL": server.url, "MEDIC_API_KEY": cron_key}
    run = subprocess.run(
        [sys.executable, "-m", "medic", "job", "nightly", "--", "sh", "-c", "exit 4"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 4 and "warning" not in run.stderr
    [recorded] = api.get("/v2/services/nightly/runs", headers=bearer(ADMIN_KEY)).json()["results"]
    assert recorded["state"] == "failed" and recorded["message"] == "exit 4"
