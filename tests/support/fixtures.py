"""Fixtures for behaviour tests: database per backend, clock, app, live HTTP API."""

from __future__ import annotations

import httpx
import pytest

from medic.config import load_settings
from medic.web import create_app
from medic.worker.loop import Worker
from tests.support.clock import FakeClock
from tests.support.databases import BACKENDS, postgres_engine, sqlite_engine
from tests.support.server import LiveServer


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def engine(backend, tmp_path):
    engine = postgres_engine() if backend == "postgresql" else sqlite_engine(tmp_path)
    yield engine
    if backend == "sqlite":
        engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings_env() -> dict[str, str]:
    """Environment variables for the app and worker; override in a test module."""
    return {}


# Tests move the clock by minutes between worker cycles, which the worker would take for
# its own outage (docs/alerting.md); the gap tests turn detection on in settings_env.
NO_GAP_DETECTION = {"MEDIC_GAP_DETECTION": "false"}


@pytest.fixture
def settings(engine, settings_env):
    url = engine.url.render_as_string(hide_password=False)
    return load_settings({"MEDIC_DATABASE_URL": url, **NO_GAP_DETECTION, **settings_env})


@pytest.fixture
def app(settings, engine, clock):
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def server(app):
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def worker(settings, engine, clock):
    """The real worker, one step at a time on the test's clock (no daily cleanup)."""
    worker = Worker(settings, engine, clock=clock, run_daily_cleanup=False)
    yield worker
    worker.close()
