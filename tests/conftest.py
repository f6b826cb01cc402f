"""Shared fixtures. Every behaviour test runs on SQLite, and on PostgreSQL when
MEDIC_TEST_DATABASE_URL points at one (CI requires it: MEDIC_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.support.fixtures", "tests.fakes.fixtures"]

POSTGRES_URL = os.environ.get("MEDIC_TEST_DATABASE_URL")
POSTGRES_REQUIRED = os.environ.get("MEDIC_REQUIRE_POSTGRES") == "1"


def pytest_sessionstart(session):
    if POSTGRES_REQUIRED and not POSTGRES_URL:
        pytest.exit("MEDIC_REQUIRE_POSTGRES=1 but MEDIC_TEST_DATABASE_URL is not set", returncode=3)


_postgres_passed = 0


def pytest_runtest_logreport(report):
    global _postgres_passed
    if report.when == "call" and report.passed and "[postgresql" in report.nodeid:
        _postgres_passed += 1


def pytest_sessionfinish(session, exitstatus):
    if POSTGRES_REQUIRED and exitstatus == 0 and _postgres_passed == 0:
        session.exitstatus = 3
        print("\nPostgreSQL was required but no PostgreSQL test passed.", file=sys.stderr)


def pytest_terminal_summary(terminalreporter):
    if POSTGRES_URL:
        terminalreporter.write_line(f"PostgreSQL tests passed: {_postgres_passed}")
