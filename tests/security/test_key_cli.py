"""`medic key create|list|revoke` against a real database, and the created key over HTTP."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from medic.cli import main
from tests.security.support import bearer


@pytest.fixture
def medic(engine, monkeypatch, restore_logging):
    monkeypatch.setenv("MEDIC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, ["key", *args])

    return run


def test_create_use_list_revoke(medic, api, registered):
    created = medic("create", "--name", "ci", "--scopes", "heartbeat")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    public_id = key.split("_")[1]
    assert key.startswith("medic_") and "cannot be shown again" in created.stderr

    beat = {"heartbeat_name": registered, "status": "UP"}
    assert api.post("/heartbeat", json=beat, headers=bearer(key)).status_code == 201
    assert api.get("/service", headers=bearer(key)).status_code == 403

    listed = medic("list")
    assert listed.exit_code == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(public_id))
    assert row.split()[1:4] == ["ci", "heartbeat", "active"]

    revoked = medic("revoke", public_id)
    assert revoked.exit_code == 0 and f"revoked key {public_id} (ci)" in revoked.stdout
    assert public_id not in medic("list").stdout
    assert "revoked" in next(line for line in medic("list", "--all").stdout.splitlines() if line.startswith(public_id))


def test_scopes_can_be_given_several_ways(medic):
    assert medic("create", "--name", "a", "--scopes", "read,write").exit_code == 0
    assert medic("create", "--name", "b", "--scopes", "read", "--scopes", "heartbeat").exit_code == 0
    lines = medic("list").stdout.splitlines()
    assert any(line.split()[1:3] == ["a", "read,write"] for line in lines)
    assert any(line.split()[1:3] == ["b", "heartbeat,read"] for line in lines)


def test_expiry(medic):
    created = medic("create", "--name", "temp", "--scopes", "read", "--expires-in", "90d")
    assert created.exit_code == 0 and "expires 20" in created.stderr
    assert medic("create", "--name", "x", "--scopes", "read", "--expires-in", "soon").exit_code == 2
    past = medic("create", "--name", "x", "--scopes", "read", "--expires-at", "2001-01-01T00:00:00Z")
    assert past.exit_code == 1 and "future" in past.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["create", "--name", "x", "--scopes", "superuser"], "unknown scope 'superuser'"),
        (["create", "--name", " ", "--scopes", "read"], "name must be"),
        (["revoke", "0123456789ab"], "no active key"),
    ],
)
def test_mistakes_are_explained(medic, args, message):
    result = medic(*args)
    assert result.exit_code == 1
    assert message in result.output


def test_revoke_by_name_needs_a_unique_name(medic):
    medic("create", "--name", "deploy", "--scopes", "read")
    medic("create", "--name", "deploy", "--scopes", "read")
    result = medic("revoke", "deploy")
    assert result.exit_code == 1 and "2 active keys are named 'deploy'" in result.output
    assert medic("create", "--name", "solo", "--scopes", "read").exit_code == 0
    assert medic("revoke", "solo").exit_code == 0


def test_unmigrated_database(tmp_path, monkeypatch, restore_logging):
    monkeypatch.setenv("MEDIC_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(main, ["key", "list"])
    assert result.exit_code == 1 and "medic db upgrade" in result.output
