"""Property-based fuzzing of /openapi.json with schemathesis against a live server.

Authentication is required and the fuzzer sends the admin key, so generated requests
reach the real handlers; its `ignored_auth` check also replays them without the key and
expects a 401. Bounded by examples per operation (about 15 s here, on SQLite). The bar:
no 5xx, and every reply is documented (status code, content type, headers, body).

Runs the `st` command line (the stable interface) as a separate process. Reproduce a
failure with the seed it prints: MEDIC_FUZZ_SEED=<seed> pytest tests/security -k fuzz.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medic.config import load_settings
from medic.store.engine import make_engine
from medic.store.migrate import upgrade
from medic.web import create_app
from tests.security.support import ADMIN_KEY, REQUIRED, SUMMARY
from tests.support.clock import FakeClock
from tests.support.server import LiveServer

MAX_EXAMPLES = 20  # per operation in the fuzzing phase; the coverage phase adds its edge cases
SEED = os.environ.get("MEDIC_FUZZ_SEED", "20261127")

# The documented contract. Left out: positive_data_acceptance and negative_data_rejection,
# which judge semantics a schema cannot express (a heartbeat for an inactive service is a
# documented 400; flags also accept 0/1 for old clients).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "ignored_auth",
    "unsupported_method",
    "missing_required_header",
]


@pytest.fixture
def live_url(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'medic.db'}")
    upgrade(engine)
    env = {
        "MEDIC_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        **REQUIRED,
        "MEDIC_RATE_LIMIT_API": "100000/minute",  # the fuzzer is one very busy client
    }
    with LiveServer(create_app(load_settings(env), engine=engine, clock=FakeClock())) as live:
        yield live.url
    engine.dispose()


def test_fuzz_openapi(live_url, tmp_path):
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "run", f"{live_url}/openapi.json",
        "--header", f"Authorization: Bearer {ADMIN_KEY}",
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", SEED,
        "--suppress-health-check", "all",
        "--generation-database", "none",
        "--request-timeout", "10",
        "--no-color",
        "--report", "json", "--report-dir", str(tmp_path / "report"),
    ]  # fmt: skip
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    output = run.stdout[-20_000:] + run.stderr[-5_000:]
    reports = list((tmp_path / "report").glob("*.json"))
    assert reports, output
    report = json.loads(reports[0].read_text())

    assert run.returncode == 0, output
    assert report["failures"] == [] and report["errors"] == [], output
    assert report["stop_reason"] == "completed", output
    operations = report["operations"]
    assert operations["tested"] == operations["total"] >= 10, operations
    cases = report["test_cases"]
    assert cases["generated"] >= 10 * operations["total"] and cases["with_failures"] == 0, cases

    SUMMARY.append(
        f"schemathesis: {cases['generated']} test cases over {operations['tested']} operations, "
        f"0 failures (seed {SEED}, {report['running_time']:.1f} s)"
    )
