"""`medic import healthchecks` (docs/migrating.md, "Coming from Healthchecks"): an API v3
checks listing into services, from a file or fetched from a stand-in Healthchecks."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from medic.importers.healthchecks import Unreadable, is_cron, parse
from tests.importers.support import DATA, medic_import, services

LISTING = DATA / "healthchecks-checks.json"
KEY = "hcr_test_read_only_key_0123456789"


def test_the_listing_maps_to_services():
    parsed = parse(json.loads(LISTING.read_text()))
    by_name = {e.name: e.spec for e in parsed.entries}
    assert set(by_name) == {"filesystem-backup", "database-backup", "nightly-report-mailer", "queue-worker"}
    assert by_name["filesystem-backup"] == {
        "heartbeat_name": "filesystem-backup", "service_name": "Filesystem Backup",
        "schedule": {"interval": 60, "threshold": 1, "grace": 600},
        "labels": {"backup": "true", "fs": "true", "env": "prod"}, "active": True,
    }
    assert by_name["database-backup"]["schedule"] == {"cron": "15 5 * * *", "timezone": "Europe/Riga", "grace": 1200}
    assert by_name["database-backup"]["labels"] == {"production": "true", "db": "true", "team": "payments"}
    assert by_name["nightly-report-mailer"]["active"] is False  # paused; no slug, named from its name
    assert by_name["queue-worker"]["schedule"]["interval"] == 2  # 90 s rounded up
    notes = "\n".join(parsed.notes)
    assert "check 'Systemd timer: logrotate': skipped: the OnCalendar schedule 'Mon..Fri *-*-* 08:00:00'" in notes
    assert "check 'Database Backup': left out: methods 'POST'" in notes
    assert "check 'Nightly report mailer': left out: email filters (success_kw, failure_kw)" in notes
    assert "check 'Nightly report mailer': left out: manual_resume" in notes
    assert "check 'queue_worker heartbeat': timeout 90 s rounded up to 2 minutes" in notes
    assert "2 check(s) have integrations (channels)" in notes


@pytest.mark.parametrize("schedule, cron", [("15 5 * * *", True), ("*/10 9-17 * * MON-FRI", True), ("8:00", False),
                                            ("daily", False), ("Mon..Fri *-*-* 09:00:00", False),
                                            ("0 8 * * *\n0 20 * * *", False)])
def test_cron_or_oncalendar(schedule, cron):
    assert is_cron(schedule) is cron


def test_not_a_listing():
    with pytest.raises(Unreadable):
        parse([{"name": "x"}])


def test_import_a_listing_then_a_second_run_changes_nothing(server, api):
    code, out = medic_import(server, "healthchecks", str(LISTING), "--dry-run")
    assert code == 0, out
    assert "dry run, nothing changed: 4 to create" in out and services(api) == {}
    assert "note: check 'Systemd timer: logrotate': skipped" in out

    code, out = medic_import(server, "healthchecks", str(LISTING), "--prefix", "", "--team", "platform")
    assert code == 0, out
    assert "4 created" in out
    found = services(api)
    backup = found["filesystem-backup"]
    assert (backup["alert_interval"], backup["threshold"], backup["grace_period_seconds"], backup["team"]) == (60, 1, 600, "platform")
    assert backup["labels"] == {"backup": "true", "fs": "true", "env": "prod"}
    db = found["database-backup"]["schedule"]
    assert (db["kind"], db["cron"], db["timezone"], db["grace"]) == ("cron", "15 5 * * *", "Europe/Riga", 1200)
    assert found["nightly-report-mailer"]["active"] in (0, False)
    assert found["nightly-report-mailer"]["service_name"] == "Nightly report mailer"

    code, out = medic_import(server, "healthchecks", str(LISTING))
    assert code == 0, out
    assert "no changes" in out and len(services(api)) == 4


def test_a_file_that_is_not_a_listing_changes_nothing(server, api, tmp_path):
    bad = tmp_path / "checks.json"
    bad.write_text('{"checks": ')
    code, out = medic_import(server, "healthchecks", str(bad))
    assert code == 1 and "not a Healthchecks checks listing" in out
    assert services(api) == {}


class _StandIn(BaseHTTPRequestHandler):
    """Healthchecks' GET /api/v3/checks/, as far as the importer uses it."""

    def do_GET(self):  # noqa: N802
        if self.path != "/api/v3/checks/":
            self.send_response(404)
            self.end_headers()
            return
        if self.headers.get("X-Api-Key") != KEY:
            body, status = b'{"error": "missing api key"}', 401
        else:
            body, status = LISTING.read_bytes(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def healthchecks_url():
    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=stand_in.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{stand_in.server_port}"
    stand_in.shutdown()
    thread.join(timeout=5)


def test_fetch_the_listing_over_http(server, api, healthchecks_url):
    code, out = medic_import(server, "healthchecks", "--from", healthchecks_url, "--healthchecks-api-key", KEY)
    assert code == 0, out
    assert "4 created" in out and len(services(api)) == 4

    code, out = medic_import(server, "healthchecks", "--from", f"{healthchecks_url}/api/v3/checks/",
                             "--healthchecks-api-key", "wrong")
    assert code == 1 and "refused the API key (HTTP 401)" in out
    assert "wrong" not in out


def test_a_check_resumed_in_healthchecks_is_active_again(server, api, tmp_path):
    listing = json.loads(LISTING.read_text())
    path = tmp_path / "checks.json"
    path.write_text(json.dumps(listing))
    assert medic_import(server, "healthchecks", str(path))[0] == 0
    for check in listing["checks"]:
        if check["status"] == "paused":
            check["status"] = "new"
    path.write_text(json.dumps(listing))
    code, out = medic_import(server, "healthchecks", str(path))
    assert code == 0, out
    assert "~ service nightly-report-mailer: updated" in out and "1 updated, 3 unchanged" in out
    assert services(api)["nightly-report-mailer"]["active"] in (1, True)
