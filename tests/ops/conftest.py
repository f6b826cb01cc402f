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
    """A free port; within MEDIC_TEST_PORTS (e.g. `19200-19299`) when that is set,
    for machines where several test runs share the network."""
    wanted = os.environ.get("MEDIC_TEST_PORTS")
    if wanted:
        low, _, high = wanted.partition("-")
        for candidate in range(int(low), int(high or low) + 1):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", candidate))
                except OSError:
                    continue
                return candidate
        raise RuntimeError(f"no free port in MEDIC_TEST_PORTS={wanted}")
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
