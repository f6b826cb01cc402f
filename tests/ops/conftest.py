"""Helpers to run the real `medic` command as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

MEDIC = [sys.executable, "-m", "medic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def medic_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIC_", "PROMETHEUS_"))}
    env.update(
        MEDIC_DATABASE_URL=f"sqlite:///{tmp_path / 'medic.db'}",
        MEDIC_AUTH="disabled",
        MEDIC_RATE_LIMIT_ENABLED="false",
        HOST="127.0.0.1",
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def medic(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*MEDIC, *args], env=env, capture_output=True, text=True, timeout=timeout)


@contextmanager
def running(*args: str, env: dict[str, str], ready_url: str, stderr_path: Path):
    """Start `medic ARGS`, wait until ready_url answers, stop it with SIGTERM."""
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen([*MEDIC, *args], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, Path(stderr_path).read_text()
                try:
                    if httpx.get(ready_url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def port() -> int:
    return free_port()
