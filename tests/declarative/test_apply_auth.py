"""`medic apply` and `medic export` with API keys required: the key travels as a
Bearer token, and a key without the scope is refused with the server's message."""

from __future__ import annotations

import secrets

import pytest
from click.testing import CliRunner

from medic.auth import manage
from medic.cli import main

ADMIN_KEY = "test-admin-" + secrets.token_hex(16)
FILE = "services:\n  - heartbeat_name: keyed-hb\n    service_name: keyed\n    schedule: {interval: 5}\n"


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_AUTH": "required", "MEDIC_ADMIN_API_KEY": ADMIN_KEY}


def test_the_key_is_sent_and_its_scope_checked(server, engine, clock, tmp_path):
    path = tmp_path / "medic.yaml"
    path.write_text(FILE)
    runner = CliRunner()
    result = runner.invoke(main, ["apply", "-f", str(path), "--url", server.url])
    assert result.exit_code == 1 and "401" in result.output
    reader = manage.create_key(engine, "reader", "read", clock(), None).key
    result = runner.invoke(main, ["apply", "-f", str(path), "--url", server.url], env={"MEDIC_API_KEY": reader})
    assert result.exit_code == 1 and "service keyed-hb: HTTP 403" in result.output and "'write' scope" in result.output
    assert "stopped after 0 of 1 change(s)" in result.output
    result = runner.invoke(main, ["apply", "-f", str(path), "--url", server.url], env={"MEDIC_API_KEY": ADMIN_KEY})
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["export", "--url", server.url], env={"MEDIC_API_KEY": reader})
    assert result.exit_code == 0 and "keyed-hb" in result.stdout
