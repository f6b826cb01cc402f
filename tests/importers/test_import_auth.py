"""`medic import` with API keys required: the key travels as a Bearer token, and a key
without the write scope changes nothing and says why."""

from __future__ import annotations

import secrets

import pytest
from click.testing import CliRunner

from medic.auth import manage
from medic.cli import main
from tests.importers.support import DATA

ADMIN_KEY = "test-admin-" + secrets.token_hex(16)


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_AUTH": "required", "MEDIC_ADMIN_API_KEY": ADMIN_KEY}


def test_the_key_is_sent_and_its_scope_checked(server, api, engine, clock):
    runner = CliRunner()
    args = ["import", "healthchecks", str(DATA / "healthchecks-checks.json"), "--url", server.url]
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and "cannot read Medic's services: HTTP 401" in result.output
    reader = manage.create_key(engine, "reader", "read", clock(), None).key
    result = runner.invoke(main, args, env={"MEDIC_API_KEY": reader})
    assert result.exit_code == 1 and "HTTP 403" in result.output and "stopped after 0 of 4 change(s)" in result.output
    result = runner.invoke(main, args, env={"MEDIC_API_KEY": ADMIN_KEY})
    assert result.exit_code == 0 and "4 created" in result.output
    listed = api.get("/service", headers={"X-API-Key": reader}).json()["results"]
    assert len(listed) == 4
