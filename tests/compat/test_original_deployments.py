"""The original Medic's deployments (Helm chart, compose file, migration script) keep
working: DATABASE_URL, and its names of renamed settings, with a warning. Real
`medic` processes; the database named by DATABASE_URL is each backend's own."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.ops.conftest import MEDIC, free_port, medic_env, running

ORIGINAL_DATABASE_VARIABLES = ("MEDIC_DATABASE_URL", "DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "PG_USER", "PG_PASS")


def original_env(tmp_path, **extra: str) -> dict[str, str]:
    """An environment that sets no database, whatever the shell running the tests sets."""
    env = {k: v for k, v in medic_env(tmp_path).items() if k not in ORIGINAL_DATABASE_VARIABLES}
    env.update(extra)
    return env


@pytest.fixture
def port() -> int:
    return free_port()


def run_medic(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*MEDIC, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_database_url_alone_is_honoured(engine, tmp_path):
    # The original chart's form: postgresql://, not postgresql+psycopg://.
    url = engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    env = original_env(tmp_path, DATABASE_URL=url, WORKER_LIVENESS_FILE=str(tmp_path / "alive"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    assert run_medic("db", "upgrade", env=env, cwd=cwd).returncode == 0
    result = run_medic("worker", "--once", env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "alive").exists()
    assert list(cwd.iterdir()) == []  # no silent ./medic.db


def test_medic_database_url_wins_over_database_url(tmp_path):
    chosen = tmp_path / "chosen.db"
    env = original_env(
        tmp_path, MEDIC_DATABASE_URL=f"sqlite:///{chosen}", DATABASE_URL=f"sqlite:///{tmp_path / 'other.db'}"
    )
    assert run_medic("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    assert chosen.exists() and not (tmp_path / "other.db").exists()


def test_serve_and_worker_refuse_the_implicit_sqlite_default(tmp_path):
    env = original_env(tmp_path)
    for command in (["serve"], ["worker"], ["worker", "--once"]):
        result = run_medic(*command, env=env, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "no database configured" in result.stderr
        assert "MEDIC_DATABASE_URL" in result.stderr and "DATABASE_URL" in result.stderr and "DB_HOST" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "medic.db").exists()


def test_an_explicit_sqlite_file_is_accepted_by_the_worker(tmp_path):
    env = original_env(tmp_path, MEDIC_DATABASE_URL=f"sqlite:///{tmp_path / 'explicit.db'}",
                       WORKER_LIVENESS_FILE=str(tmp_path / "alive"))
    assert run_medic("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    assert run_medic("worker", "--once", env=env, cwd=tmp_path).returncode == 0


def test_a_bad_db_port_is_one_line_naming_the_variable(tmp_path):
    env = original_env(tmp_path, DB_HOST="db.internal", DB_PORT="fivefour")
    for command in (["worker", "--once"], ["db", "upgrade"], ["serve"]):
        result = run_medic(*command, env=env, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "DB_PORT" in lines[0] and "fivefour" in lines[0]


def test_a_bad_database_url_is_named_without_its_password(tmp_path):
    env = original_env(tmp_path, DATABASE_URL="postgresql://medic:hunter2-secret@db:port/medic")
    result = run_medic("worker", "--once", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "DATABASE_URL" in result.stderr and "hunter2-secret" not in result.stderr


def test_original_setting_names_work_with_a_warning(tmp_path, port):
    env = original_env(
        tmp_path,
        MEDIC_DATABASE_URL=f"sqlite:///{tmp_path / 'medic.db'}",
        METRICS_PORT=str(port),  # the original worker's name for WORKER_METRICS_PORT
        MEDIC_LOG_FORMAT="text",  # ... for LOG_FORMAT
        ALERT_AUTO_UNMUTE_HOURS="12",  # ... for AUTO_UNMUTE_HOURS
        MEDIC_TIMEZONE="America/Chicago",
        WORKER_INTERVAL_SECONDS="1",
        WORKER_LIVENESS_FILE=str(tmp_path / "alive"),
    )
    env.pop("WORKER_METRICS_PORT", None)
    env.pop("LOG_FORMAT", None)
    assert run_medic("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    log = tmp_path / "worker.log"
    url = f"http://127.0.0.1:{port}/metrics"
    with running("worker", env=env, ready_url=url, stderr_path=log):
        assert "medic_worker" in httpx.get(url).text
    text = log.read_text()
    assert not text.lstrip().startswith("{")  # text logs, from MEDIC_LOG_FORMAT
    assert "METRICS_PORT is deprecated: rename it WORKER_METRICS_PORT" in text
    assert "MEDIC_LOG_FORMAT is deprecated: rename it LOG_FORMAT" in text
    assert "ALERT_AUTO_UNMUTE_HOURS is deprecated: rename it AUTO_UNMUTE_HOURS" in text
    assert "MEDIC_TIMEZONE is ignored" in text and "UTC" in text


def test_the_new_name_wins_over_the_original(tmp_path, port):
    env = original_env(
        tmp_path, MEDIC_DATABASE_URL=f"sqlite:///{tmp_path / 'medic.db'}", LOG_FORMAT="json",
        MEDIC_LOG_FORMAT="text", WORKER_LIVENESS_FILE=str(tmp_path / "alive"), WORKER_METRICS_PORT="0",
    )
    assert run_medic("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = run_medic("worker", "--once", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "MEDIC_LOG_FORMAT is ignored: LOG_FORMAT is set and wins" in result.stderr
    assert result.stderr.lstrip().startswith("{")  # JSON, as LOG_FORMAT says
