"""Each heartbeat client's own suite, run against a real Medic server it starts.

A client whose toolchain is absent is skipped, unless MEDIC_REQUIRE_ALL_CLIENTS=1
(CI), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
TOOLCHAINS = {"python": sys.executable, "go": "go", "ruby": "ruby", "typescript": "npm"}


@pytest.mark.parametrize("client", sorted(TOOLCHAINS))
def test_client_suite(client):
    if shutil.which(TOOLCHAINS[client]) is None:
        if os.environ.get("MEDIC_REQUIRE_ALL_CLIENTS") == "1":
            pytest.fail(f"{TOOLCHAINS[client]} is required for the {client} client (MEDIC_REQUIRE_ALL_CLIENTS=1)")
        pytest.skip(f"{TOOLCHAINS[client]} not installed")
    env = {**os.environ, "MEDIC_PYTHON": sys.executable, "MEDIC_REQUIRE_ALL_CLIENTS": "1"}
    env.pop("MEDIC_TEST_DATABASE_URL", None)
    result = subprocess.run(
        [str(CLIENTS / "run-tests.sh"), client], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert f"{client} ok" in result.stdout
