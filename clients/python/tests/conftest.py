"""Start a real Medic server (``python -m medic run``) for the client tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
# Test the source tree even when run from the repository root or another rootdir.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def medic_python() -> str:
    if os.environ.get("MEDIC_PYTHON"):
        return os.environ["MEDIC_PYTHON"]
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else "python3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, auth: str = "disabled", admin_key: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_key = admin_key
        self.log_path = tmp / f"server-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIC_")}
        env.update(
            HOST="127.0.0.1",
            PORT=str(self.port),
            MEDIC_DATABASE_URL=f"sqlite:///{tmp}/medic-{self.port}.db",
            MEDIC_AUTH=auth,
            WORKER_INTERVAL_SECONDS="60",
            LOG_FORMAT="text",
        )
        if admin_key:
            env["MEDIC_ADMIN_API_KEY"] = admin_key
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [medic_python(), "-m", "medic", "run"], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_live()

    def _wait_live(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"medic server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health/live", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"medic server did not become live within 30 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


PROBE = "import importlib.util as u, sys; sys.exit(u.find_spec('medic') is None or u.find_spec('medic.__main__') is None)"


def _require_medic() -> None:
    probe = subprocess.run([medic_python(), "-c", PROBE], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = f"{medic_python()} cannot run `-m medic` (set MEDIC_PYTHON to the server's python) {probe.stderr.strip()[-300:]}"
        if os.environ.get("MEDIC_REQUIRE_ALL_CLIENTS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clean_client_env(monkeypatch):
    # The developer's own settings must not leak into what the tests assert.
    monkeypatch.delenv("MEDIC_BASE_URL", raising=False)
    monkeypatch.delenv("MEDIC_API_KEY", raising=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    _require_medic()
    srv = Server(tmp_path_factory.mktemp("medic"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory):
    _require_medic()
    srv = Server(tmp_path_factory.mktemp("medic-auth"), auth="required", admin_key="test-admin-" + secrets.token_hex(16))
    yield srv
    srv.stop()


@pytest.fixture
def unique_name(request):
    return f"py-{request.node.name[:30].replace('_', '-')}-{secrets.token_hex(3)}".lower()


@pytest.fixture
def closed_port_url():
    return f"http://127.0.0.1:{free_port()}"

