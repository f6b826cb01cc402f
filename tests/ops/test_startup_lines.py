"""What `medic run` and `medic serve` say at start: where Medic listens, which
database (password masked), which channels, the auth warning, and, when several
web processes count rate limits each on their own, a warning naming REDIS_URL.
No Alembic chatter."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from queue import Empty, Queue

import pytest

from medic.cli.server import startup_lines
from medic.config import load_settings
from tests.ops.conftest import MEDIC, medic_env


def first_lines(args: list[str], env: dict[str, str], *, until: str, limit: int = 40, timeout: float = 30) -> list[str]:
    """The process's stderr lines up to the first containing `until` (or `limit` lines); then stop it."""
    proc = subprocess.Popen([*MEDIC, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: Queue[str | None] = Queue()

    def pump() -> None:
        for line in proc.stderr:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < limit:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except Empty:
                break
            if line is None:
                break
            seen.append(line)
            if until in line:
                break
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return seen


def test_medic_run_says_where_it_listens_and_nothing_from_alembic(tmp_path: Path, port: int):
    env = medic_env(tmp_path, PORT=str(port), MEDIC_WEBHOOK_URL="http://127.0.0.1:9/hook")
    del env["MEDIC_AUTH"]  # `medic run`'s own default: disabled, on 127.0.0.1
    lines = first_lines(["run"], env, until="AUTHENTICATION IS DISABLED")
    text = "\n".join(lines)
    assert "alembic" not in text.lower(), text
    assert f"listening on http://127.0.0.1:{port}" in text
    assert f"database: sqlite:///{tmp_path / 'medic.db'}" in text
    assert "channels: webhook" in text
    assert "AUTHENTICATION IS DISABLED" in lines[-1]
    assert len(lines) <= 6, text  # a few lines, not a page


def test_medic_serve_warns_that_rate_limits_are_per_process_without_redis(tmp_path: Path, port: int):
    env = medic_env(tmp_path, PORT=str(port), WEB_CONCURRENCY="2", MEDIC_RATE_LIMIT_ENABLED="true", MEDIC_AUTH="required")
    env.pop("REDIS_URL", None)
    lines = first_lines(["serve"], env, until="Listening at")
    warnings = [line for line in lines if "REDIS_URL" in line]
    assert len(warnings) == 1, "\n".join(lines)
    assert "WARNING" in warnings[0] and "2 processes" in warnings[0] and "2x" in warnings[0]


def _settings(**env: str):
    return load_settings({"MEDIC_DATABASE_URL": "sqlite:///m.db", **env})


def _messages(settings, processes: int) -> str:
    return "\n".join(message for _level, message in startup_lines(settings, processes=processes))


@pytest.mark.parametrize(
    ("env", "processes", "warned"),
    [
        ({}, 4, True),
        ({}, 1, False),  # one process: one count, as configured
        ({"REDIS_URL": "redis://127.0.0.1:6379/3"}, 4, False),
        ({"MEDIC_RATE_LIMIT_ENABLED": "false"}, 4, False),
    ],
)
def test_rate_limit_warning_only_when_processes_count_apart(env, processes, warned):
    assert ("REDIS_URL" in _messages(_settings(**env), processes)) is warned


def test_database_password_is_masked_and_no_channels_said_so():
    text = _messages(load_settings({"MEDIC_DATABASE_URL": "postgresql://medic:s3cret-pw@db.internal/medic"}), 1)
    assert "s3cret-pw" not in text
    assert "database: postgresql://medic:***@db.internal/medic" in text
    assert "channels: none configured" in text


def test_a_multi_host_database_url_is_shown_masked():
    url = "postgresql://medic:s3cret-pw@a:5432,b:5432/medic?target_session_attrs=read-write"
    text = _messages(load_settings({"MEDIC_DATABASE_URL": url}), 1)
    assert "s3cret-pw" not in text
    assert "host=a%3A5432&host=b%3A5432" in text
