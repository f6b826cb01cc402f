"""`medic route add|list|remove` against a live server."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from medic.cli import main


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_SECRET_KEY": Fernet.generate_key().decode()}


def run(server, *args):
    result = CliRunner().invoke(main, ["route", *args, "--url", server.url], catch_exceptions=False)
    return result.exit_code, result.output


def test_add_list_remove(server, api):
    code, out = run(server, "add", "db", "--team", "db", "--label", "env=prod",
                    "--target", "pagerduty=cli-secret-routing-key", "--target", "slack=CDB",
                    "--target", "email=a@example.com,b@example.com",
                    "--escalate-after", "15", "--escalate-to", "pagerduty-env=BOSS_KEY")
    assert code == 0, out
    assert "created" in out and "cli-secret-routing-key" not in out
    [route] = api.get("/v2/routes").json()["results"]
    assert route["match"] == {"team": "db", "priority": None, "labels": {"env": "prod"}}
    assert [t["type"] for t in route["targets"]] == ["pagerduty", "slack", "email"]
    assert route["escalate_after_minutes"] == 15 and route["escalate_to"][0]["routing_key"] == {"env": "BOSS_KEY"}

    code, out = run(server, "list")
    assert code == 0 and "db" in out and "team=db" in out and "env=prod" in out and "slack(channel=CDB)" in out
    assert "cli-secret-routing-key" not in out and "escalates after 15 min" in out

    code, out = run(server, "remove", "db")
    assert code == 0, out
    assert api.get("/v2/routes").json()["results"] == []
    code, out = run(server, "list")
    assert "no routes" in out


def test_errors_are_one_line_naming_the_problem(server):
    code, out = run(server, "add", "x", "--target", "pager=abc")
    assert code == 2 and "TYPE=VALUE" in out
    code, out = run(server, "add", "x", "--priority", "p9", "--target", "slack=C1")
    assert code == 1 and "400" in out and "match.priority" in out
    code, out = run(server, "remove", "nope")
    assert code == 1 and "no route is named 'nope'" in out
