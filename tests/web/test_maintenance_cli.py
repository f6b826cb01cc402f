"""`medic maintenance add|list|end` against a live server (its clock: 2026-01-05 12:00 UTC)."""

from __future__ import annotations

from click.testing import CliRunner

from medic.cli import main


def run(server, *args):
    result = CliRunner().invoke(main, ["maintenance", *args, "--url", server.url], catch_exceptions=False)
    return result.exit_code, result.output


def register(api, name: str, **extra) -> None:
    response = api.post("/service", json={"heartbeat_name": name, "service_name": name, "alert_interval": 5, **extra})
    assert response.status_code == 201, response.text


def test_add_list_end(server, api):
    register(api, "db-hb", team="db")
    code, out = run(server, "add", "db upgrade", "--service", "db-hb", "--start", "2026-01-05T12:00:00Z",
                    "--end", "2026-01-05T14:00:00+00:00")
    assert code == 0, out
    assert "created" in out and "in force until 2026-01-05T14:00:00Z" in out and "services db-hb" in out
    code, out = run(server, "add", "weekly patching", "--label", "env=prod", "--cron", "0 2 * * 0",
                    "--timezone", "Europe/Berlin", "--duration", "120")
    assert code == 0, out
    [one_off, recurring] = api.get("/v2/maintenance").json()["results"]
    assert one_off["services"] == ["db-hb"] and one_off["reason"] == "db upgrade"
    assert recurring["labels"] == {"env": "prod"} and recurring["duration_minutes"] == 120

    code, out = run(server, "list")
    assert code == 0 and len(out.strip().splitlines()) == 2
    assert "db upgrade" in out and "0 2 * * 0 Europe/Berlin for 120 min" in out and "next 2026-01-11T01:00:00Z" in out

    code, out = run(server, "end", str(one_off["id"]))
    assert code == 0 and f"window {one_off['id']} ended" in out, out
    code, out = run(server, "end", str(recurring["id"]))
    assert code == 0, out
    code, out = run(server, "list")
    assert "no maintenance windows" in out


def test_a_duration_from_now_and_the_team_scope(server, api):
    code, out = run(server, "add", "network work", "--team", "net", "--for", "2h", "--json")
    assert code == 0, out
    [window] = api.get("/v2/maintenance").json()["results"]
    assert window["team"] == "net" and window["kind"] == "one_off"


def test_errors_are_one_line_naming_the_problem(server, api):
    code, out = run(server, "add", "x", "--service", "nope-hb", "--for", "1h")
    assert code == 1 and "400" in out and "no service is registered as 'nope-hb'" in out
    code, out = run(server, "add", "x", "--team", "db", "--cron", "0 2 * * 0", "--timezone", "Mars/Olympus",
                    "--duration", "60")
    assert code == 1 and "timezone" in out
    code, out = run(server, "add", "x", "--team", "db", "--for", "2 hours")
    assert code == 2 and "--for" in out
    code, out = run(server, "add", "x", "--team", "db", "--end", "tomorrow")
    assert code == 2 and "ISO 8601" in out
    code, out = run(server, "end", "999")
    assert code == 1 and "404" in out
    assert api.get("/v2/maintenance").json()["results"] == []
