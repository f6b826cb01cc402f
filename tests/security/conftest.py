"""Security tests: a live server with MEDIC_AUTH=required and real keys in the database."""

from __future__ import annotations

import contextlib
import itertools
import logging

import httpx
import pytest

from medic.auth import manage
from medic.config import load_settings
from medic.web import create_app
from tests.security.support import ADMIN_KEY, REQUIRED, SUMMARY, bearer
from tests.support.server import LiveServer


@pytest.fixture
def settings_env() -> dict[str, str]:
    return dict(REQUIRED)


@pytest.fixture
def make_key(engine, clock):
    """Create a key in the database as `medic key create` does; returns the full key."""
    names = itertools.count(1)

    def make(scopes: str, *, name: str | None = None, expires_at=None) -> str:
        return manage.create_key(engine, name or f"key-{next(names)}", scopes, clock(), expires_at).key

    return make


@pytest.fixture
def serve(engine, clock):
    """Start another app on the same database with its own settings: ``with serve(ENV) as client``."""

    @contextlib.contextmanager
    def start(env: dict[str, str]):
        url = engine.url.render_as_string(hide_password=False)
        app = create_app(load_settings({"MEDIC_DATABASE_URL": url, **env}), engine=engine, clock=clock)
        with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=10) as client:
            client.app = app
            yield client

    return start


@pytest.fixture
def registered(api) -> str:
    response = api.post(
        "/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5}, headers=bearer(ADMIN_KEY)
    )
    assert response.status_code == 201, response.text
    return "svc-hb"


@pytest.fixture
def restore_logging():
    """CLI commands and medic.logs.configure replace the root handlers; put them back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_terminal_summary(terminalreporter):
    for line in SUMMARY:
        terminalreporter.write_line(line)
