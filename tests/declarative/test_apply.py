"""`medic apply`, `medic export` and `medic schema` against a live server, over HTTP
(docs/config-as-code.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import textwrap

import pytest
import yaml
from click.testing import CliRunner
from cryptography.fernet import Fernet

from medic.cli import main

CONFIG = """\
version: 1
services:
  - heartbeat_name: billing-hb
    service_name: billing
    team: payments
    priority: p2
    runbook: https://wiki.example.com/billing
    labels: {env: prod, tier: "1"}
    schedule:
      interval: 5
      threshold: 2
      grace: 60
  - heartbeat_name: nightly-export
    service_name: exports
    schedule:
      cron: "0 3 * * *"
      timezone: Europe/Berlin
      grace: 600
      start_margin: 300
      max_runtime: 3600
routes:
  - name: payments
    match: {team: payments}
    targets:
      - {type: pagerduty, routing_key: {env: PAYMENTS_PD_KEY}}
      - {type: slack, channel: C0PAY}
    escalate_after_minutes: 30
    escalate_to:
      - {type: email, to: [lead@example.com]}
"""


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_SECRET_KEY": Fernet.generate_key().decode()}  # routes made by hand may hold a stored secret


def medic(server, *args):
    result = CliRunner().invoke(main, [*args, "--url", server.url], catch_exceptions=False)
    return result.exit_code, result.output


def write(tmp_path, text, name="medic.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def services(api):
    return {s["heartbeat_name"]: s for s in api.get("/service").json()["results"]}


def routes(api):
    return {r["name"]: r for r in api.get("/v2/routes").json()["results"]}


def test_apply_creates_then_a_second_apply_changes_nothing(server, api, tmp_path):
    path = write(tmp_path, CONFIG)
    code, out = medic(server, "apply", "-f", path)
    assert code == 0, out
    assert "+ service billing-hb: created" in out and "+ route payments: created" in out
    assert "2 created" in out or "3 created" in out
    found = services(api)
    billing, nightly = found["billing-hb"], found["nightly-export"]
    assert (billing["team"], billing["priority"], billing["alert_interval"], billing["threshold"],
            billing["grace_period_seconds"], billing["labels"]) == ("payments", "p2", 5, 2, 60, {"env": "prod", "tier": "1"})
    assert billing["runbook"] == "https://wiki.example.com/billing"
    schedule = nightly["schedule"]
    assert (schedule["kind"], schedule["cron"], schedule["timezone"], schedule["grace"], schedule["start_margin"],
            schedule["max_runtime"]) == ("cron", "0 3 * * *", "Europe/Berlin", 600, 300, 3600)
    route = routes(api)["payments"]
    assert route["match"]["team"] == "payments" and route["targets"][0]["routing_key"] == {"env": "PAYMENTS_PD_KEY"}
    assert route["escalate_after_minutes"] == 30 and route["escalate_to"][0]["to"] == ["lead@example.com"]

    before = (services(api), routes(api))
    code, out = medic(server, "apply", "-f", path)
    assert code == 0, out
    assert "no changes: Medic matches the file" in out
    assert "= service billing-hb: unchanged" in out and "= route payments: unchanged" in out
    after = (services(api), routes(api))
    assert [s["date_modified"] for s in after[0].values()] == [s["date_modified"] for s in before[0].values()]
    assert after[1] == before[1]


def test_dry_run_prints_the_plan_and_changes_nothing(server, api, tmp_path):
    code, out = medic(server, "apply", "-f", write(tmp_path, CONFIG), "--dry-run")
    assert code == 0, out
    assert "+ service billing-hb: create" in out and "+ route payments: create" in out
    assert "dry run, nothing changed: 3 to create" in out
    assert services(api) == {} and routes(api) == {}


def test_update_field_by_field(server, api, tmp_path):
    medic(server, "apply", "-f", write(tmp_path, CONFIG))
    changed = (CONFIG.replace("priority: p2", "priority: p1")
               .replace("threshold: 2\n", "threshold: 3\n")
               .replace('    runbook: https://wiki.example.com/billing\n', "")
               .replace('cron: "0 3 * * *"', 'cron: "30 4 * * *"')
               .replace("escalate_after_minutes: 30", "escalate_after_minutes: 45"))
    path = write(tmp_path, changed)
    code, out = medic(server, "apply", "-f", path, "--dry-run")
    assert code == 0, out
    assert "~ service billing-hb: update" in out
    assert "    priority: 'p2' -> 'p1'" in out and "    schedule.threshold: 2 -> 3" in out
    assert "    runbook: 'https://wiki.example.com/billing' -> null" in out
    assert "    schedule.cron: '0 3 * * *' -> '30 4 * * *'" in out
    assert "    escalate_after_minutes: 30 -> 45" in out
    assert "team:" not in out  # unchanged fields are not listed
    assert services(api)["billing-hb"]["priority"] == "p2"

    code, out = medic(server, "apply", "-f", path)
    assert code == 0, out
    assert "~ service billing-hb: updated" in out and "3 updated" in out
    billing, nightly = services(api)["billing-hb"], services(api)["nightly-export"]
    assert (billing["priority"], billing["threshold"], billing["runbook"], billing["team"]) == ("p1", 3, None, "payments")
    assert nightly["schedule"]["cron"] == "30 4 * * *" and nightly["schedule"]["start_margin"] == 300
    assert routes(api)["payments"]["escalate_after_minutes"] == 45
    code, out = medic(server, "apply", "-f", path)
    assert "no changes" in out


def test_schedule_kind_changes_both_ways(server, api, tmp_path):
    medic(server, "apply", "-f", write(tmp_path, CONFIG))
    swapped = CONFIG.replace("      interval: 5\n      threshold: 2\n", '      cron: "*/5 * * * *"\n').replace(
        '      cron: "0 3 * * *"\n      timezone: Europe/Berlin\n', "      interval: 1440\n").replace(
        "      start_margin: 300\n", "")
    path = write(tmp_path, swapped)
    code, out = medic(server, "apply", "-f", path)
    assert code == 0, out
    found = services(api)
    assert found["billing-hb"]["schedule"]["kind"] == "cron" and found["billing-hb"]["grace_period_seconds"] == 60
    assert found["nightly-export"]["schedule"]["kind"] == "interval" and found["nightly-export"]["alert_interval"] == 1440
    assert found["nightly-export"]["max_duration_seconds"] == 3600
    assert "no changes" in medic(server, "apply", "-f", path)[1]


def test_without_prune_others_are_left_alone_with_prune_deactivated_and_removed(server, api, tmp_path):
    api.post("/service", json={"heartbeat_name": "legacy-hb", "service_name": "legacy", "alert_interval": 10})
    api.post("/v2/routes", json={"name": "old", "targets": [{"type": "slack", "channel": "COLD"}]})
    path = write(tmp_path, CONFIG)
    code, out = medic(server, "apply", "-f", path)
    assert code == 0, out
    assert "? service legacy-hb: not in the file, left alone" in out and "? route old: not in the file" in out
    assert services(api)["legacy-hb"]["active"] == 1 and "old" in routes(api)

    code, out = medic(server, "apply", "-f", path, "--prune", "--dry-run")
    assert "- service legacy-hb: would deactivate" in out and "- route old: would remove" in out
    assert services(api)["legacy-hb"]["active"] == 1 and "old" in routes(api)

    code, out = medic(server, "apply", "-f", path, "--prune")
    assert code == 0, out
    assert "- service legacy-hb: deactivated" in out and "- route old: removed" in out
    legacy = api.get("/service/legacy-hb").json()["results"][0]  # kept, with its history
    assert legacy["active"] == 0 and legacy["state"] == "inactive"
    assert "old" not in routes(api)
    code, out = medic(server, "apply", "-f", path, "--prune")
    assert "no changes" in out
    code, out = medic(server, "apply", "-f", write(tmp_path, "# nothing yet\n", "empty.yaml"), "--prune")
    assert code == 1 and "--prune would deactivate or remove everything" in out
    assert services(api)["billing-hb"]["active"] == 1


def test_a_service_in_the_file_is_active(server, api, tmp_path):
    path = write(tmp_path, CONFIG)
    medic(server, "apply", "-f", path)
    api.post("/service/billing-hb", json={"active": 0})
    code, out = medic(server, "apply", "-f", path)
    assert "    active: false -> true" in out and services(api)["billing-hb"]["active"] == 1


def test_invalid_entries_name_file_and_line_and_nothing_is_applied(server, api, tmp_path):
    good = write(tmp_path, CONFIG, "a.yaml")
    bad = write(tmp_path, """\
        services:
          - heartbeat_name: ok-hb
            service_name: fine
            schedule: {interval: 5}
          - heartbeat_name: broken-hb
            service_name: broken
            schedule:
              cron: "61 * * * *"
          - heartbeat_name: worse-hb
            service_name: worse
            priority: p9
            labels: {env: prod, tier: 1}
            schedule: {interval: 5}
        routes:
          - name: leaky
            targets:
              - type: pagerduty
                routing_key: a-secret-in-version-control
        """, "b.yaml")
    result = CliRunner().invoke(main, ["apply", "-f", good, "-f", bad, "--url", server.url])
    assert result.exit_code == 1
    err = result.output
    assert f"{bad}:8: services[1] 'broken-hb' schedule.cron:" in err
    assert f"{bad}:11: services[2] 'worse-hb' priority:" in err
    assert f"{bad}:12: services[2] 'worse-hb' labels.tier: Input should be a valid string (YAML read 1: quote it)" in err
    assert f"{bad}:18: routes[0] 'leaky' targets.0.routing_key: a secret is never written in the file" in err
    assert "a-secret-in-version-control" not in err
    assert "nothing applied: 4 problem(s)" in err
    assert services(api) == {} and routes(api) == {}


def test_yaml_errors_and_duplicates_are_located(server, api, tmp_path):
    broken = write(tmp_path, "services:\n  - heartbeat_name: x\n    service_name: [unclosed\n", "broken.yaml")
    result = CliRunner().invoke(main, ["apply", "-f", broken, "--url", server.url])
    assert result.exit_code == 1 and f"{broken}:4: not valid YAML" in result.output
    twice = write(tmp_path, CONFIG, "one.yaml")
    again = write(tmp_path, "services:\n  - heartbeat_name: BILLING-HB\n    service_name: b\n    schedule: {interval: 1}\n",
                  "two.yaml")
    result = CliRunner().invoke(main, ["apply", "-f", twice, "-f", again, "--url", server.url])
    assert result.exit_code == 1
    assert f"{again}:2: services[0] 'BILLING-HB': 'billing-hb' is already defined at {twice}:3" in result.output
    assert services(api) == {}


def test_a_folder_of_files(server, api, tmp_path):
    folder = tmp_path / "medic.d"
    folder.mkdir()
    services_part, routes_part = CONFIG.split("routes:\n")
    (folder / "10-services.yaml").write_text(services_part)
    (folder / "20-routes.yml").write_text("routes:\n" + routes_part)
    (folder / "notes.txt").write_text("not read")
    code, out = medic(server, "apply", "-f", str(folder))
    assert code == 0, out
    assert set(services(api)) == {"billing-hb", "nightly-export"} and set(routes(api)) == {"payments"}


def test_export_then_apply_is_a_no_op(server, api, tmp_path):
    medic(server, "apply", "-f", write(tmp_path, CONFIG))
    # and what the API made without a file: a route holding a stored secret, an inactive service
    api.post("/service", json={"heartbeat_name": "made-by-hand", "service_name": "hand", "alert_interval": 7,
                               "labels": {"owner": "ops"}, "max_duration_seconds": 120})
    api.post("/service/made-by-hand", json={"active": False})
    assert api.post("/v2/routes", json={"name": "sealed", "match": {"labels": {"owner": "ops"}},
                                        "targets": [{"type": "pagerduty", "routing_key": "sealed-secret-key"}]}).status_code == 201
    result = CliRunner().invoke(main, ["export", "--url", server.url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exported = result.stdout
    assert "sealed-secret-key" not in result.output
    assert "route 'sealed' holds secrets stored on the server" in result.stderr
    content = yaml.safe_load(exported)
    assert [s["heartbeat_name"] for s in content["services"]] == ["billing-hb", "nightly-export", "made-by-hand"]
    sealed = next(r for r in content["routes"] if r["name"] == "sealed")
    assert sealed["targets"] == [{"type": "pagerduty", "routing_key": {"stored": True}}]
    path = tmp_path / "exported.yaml"
    path.write_text(exported)
    code, out = medic(server, "apply", "-f", str(path), "--prune")
    assert code == 0, out
    assert "no changes: Medic matches the file" in out


def test_a_stored_secret_cannot_be_sent_again(server, api, tmp_path):
    api.post("/v2/routes", json={"name": "sealed", "targets": [{"type": "pagerduty", "routing_key": "sealed-secret-key"}]})
    path = write(tmp_path, """\
        routes:
          - name: sealed
            targets:
              - {type: pagerduty, routing_key: {stored: true}}
              - {type: slack, channel: C1}
        """)
    result = CliRunner().invoke(main, ["apply", "-f", path, "--url", server.url])
    assert result.exit_code == 1 and "stored secret cannot be sent again" in result.output
    assert len(routes(api)["sealed"]["targets"]) == 1


def test_maintenance_needs_the_server_s_maintenance_api(server, api, tmp_path):
    if api.get("/v2/maintenance").status_code != 404:
        pytest.skip("this server has /v2/maintenance: covered by test_maintenance_windows")
    path = write(tmp_path, CONFIG + """\
maintenance:
  - team: payments
    start: 2026-01-06T02:00:00Z
    end: 2026-01-06T04:00:00Z
    reason: database upgrade
""")
    result = CliRunner().invoke(main, ["apply", "-f", path, "--url", server.url])
    assert result.exit_code == 1 and "no maintenance API (/v2/maintenance answered 404)" in result.output
    assert services(api) == {}
    code, out = medic(server, "apply", "-f", write(tmp_path, CONFIG, "plain.yaml"))  # no windows: no error
    assert code == 0, out


def test_maintenance_windows(server, api, tmp_path):
    if api.get("/v2/maintenance").status_code == 404:
        pytest.skip("this server has no /v2/maintenance yet")
    # In the future of both clocks: the server's (injected) and the one apply judges
    # "already over" by (this machine's).
    start = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:00:00Z")
    end = (datetime.now(timezone.utc) + timedelta(days=30, hours=2)).strftime("%Y-%m-%dT%H:00:00Z")
    once = f"  - team: payments\n    start: {start}\n    end: {end}\n    reason: upgrade\n"
    weekly = ("  - services: [billing-hb]\n    cron: \"0 2 * * 0\"\n    timezone: Europe/Berlin\n    duration_minutes: 60\n"
              "    reason: weekly vacuum\n")
    path = write(tmp_path, CONFIG + "maintenance:\n" + once + weekly)
    code, out = medic(server, "apply", "-f", path)
    assert code == 0, out
    assert len(api.get("/v2/maintenance").json()["results"]) == 2
    assert "no changes" in medic(server, "apply", "-f", path)[1]
    path = write(tmp_path, CONFIG + "maintenance:\n" + weekly)
    code, out = medic(server, "apply", "-f", path, "--prune")
    assert code == 0 and "removed" in out, out
    assert len(api.get("/v2/maintenance").json()["results"]) == 1

