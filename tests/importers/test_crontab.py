"""`medic import crontab` and `medic import cronjob` (docs/migrating.md, "Coming from cron"):
parsing real-shaped files, then importing into a live server, twice."""

from __future__ import annotations

import json
import shutil

import pytest

from medic.importers.crontab import command_name, parse_crontab, parse_cronjobs, wrapped_command
from tests.importers.support import DATA, medic_import, services


def test_a_user_crontab():
    parsed = parse_crontab((DATA / "user.crontab").read_text(), "user.crontab")
    found = {e.name: (e.spec["schedule"]["cron"], e.spec["schedule"]["timezone"], e.origin) for e in parsed.entries}
    assert found == {
        "artisan-schedule-run": ("*/15 * * * *", "UTC", "user.crontab:9"),
        "backup-full": ("30 2 * * *", "UTC", "user.crontab:10"),
        "report-daily": ("0 6 * * 1-5", "Europe/Berlin", "user.crontab:13"),  # after CRON_TZ=
        "invoice-run": ("15 4 1 * *", "Europe/Berlin", "user.crontab:15"),  # named by "# medic: invoice-run"
        "certbot-renew-quiet": ("@daily", "Europe/Berlin", "user.crontab:16"),
        "date-f": ("45 23 * * 0", "Europe/Berlin", "user.crontab:17"),  # \% is a literal %
        "backup-full-8e0599": ("0 7 * * *", "Europe/Berlin", "user.crontab:18"),  # the same command again
    }
    assert any("user.crontab:8: skipped: @reboot" in note for note in parsed.notes)
    assert any("'backup-full' already taken above" in note for note in parsed.notes)
    assert any("user.crontab:17: the command holds %" in note for note in parsed.notes) is False  # \% is escaped
    wrapped = {e.name: e.wrapped for e in parsed.entries}
    assert wrapped["report-daily"] == "0 6 * * 1-5 medic job report-daily -- python3 /opt/jobs/report.py --daily"
    assert wrapped["artisan-schedule-run"] == (
        "*/15 * * * * medic job artisan-schedule-run -- sh -c 'cd /srv/app && php artisan schedule:run >> /dev/null 2>&1'")
    assert wrapped["certbot-renew-quiet"] == "@daily medic job certbot-renew-quiet -- /usr/bin/certbot renew --quiet"


def test_the_system_crontab_has_a_user_field():
    parsed = parse_crontab((DATA / "etc-crontab").read_text(), "/etc/crontab", system=True, prefix="web1-")
    found = {e.name: (e.spec["schedule"]["cron"], e.spec["schedule"]["timezone"]) for e in parsed.entries}
    assert found == {
        "web1-cron-hourly": ("17 * * * *", "UTC"),
        "web1-cron-daily": ("25 6 * * *", "UTC"),
        "web1-pg-dump-u-app": ("0 1 * * *", "America/New_York"),  # TZ="..." quoted
        "web1-true": ("61 * * * *", "America/New_York"),  # refused when imported (minute 61)
    }
    wrapped = {e.name: e.wrapped for e in parsed.entries}
    assert wrapped["web1-pg-dump-u-app"] == (
        "0 1 * * *\tpostgres medic job web1-pg-dump-u-app -- sh -c 'pg_dump -U app appdb | gzip > /backups/appdb.sql.gz'")


@pytest.mark.parametrize("command, name", [
    ("/usr/local/bin/backup.sh --full > /var/log/backup.log 2>&1", "backup-full"),
    ("cd /srv/app && ./manage.py clearsessions", "manage-clearsessions"),
    ("nice -n 19 ionice -c3 /opt/bin/reindex.py", "reindex"),
    ("PGPASSWORD=secret /usr/bin/vacuumdb --all --analyze", "vacuumdb-all-analyze"),
    ("timeout 30m bash /opt/sync.sh eu-west", "sync-eu-west"),
    ("/opt/run.sh%first line of stdin", "run"),
])
def test_names_from_commands(command, name):
    assert command_name(command) == name


def test_a_command_needing_a_shell_runs_under_sh():
    assert wrapped_command("x", "/bin/job --a") == "medic job x -- /bin/job --a"
    assert wrapped_command("x", "echo $HOME | tee /tmp/o") == "medic job x -- sh -c 'echo $HOME | tee /tmp/o'"
    assert wrapped_command("x", "echo it's") == "medic job x -- sh -c 'echo it'\"'\"'s'"


def test_a_multi_document_cronjob_manifest():
    parsed = parse_cronjobs((DATA / "cronjobs.yaml").read_text(), "cronjobs.yaml")
    by_name = {e.name: e for e in parsed.entries}
    assert set(by_name) == {"nightly-export", "cache-warmer", "report", "broken"}  # the ConfigMap is passed over
    export = by_name["nightly-export"].spec
    assert export["schedule"] == {"cron": "0 3 * * *", "timezone": "Europe/Berlin", "max_runtime": 3600}
    assert export["labels"] == {"namespace": "billing"} and export["active"] is True
    assert by_name["cache-warmer"].spec["active"] is False and by_name["cache-warmer"].spec["schedule"]["cron"] == "@hourly"
    assert by_name["report"].spec["schedule"] == {"cron": "30 9 * * 1", "timezone": "Asia/Tokyo"}
    command = json.loads(by_name["nightly-export"].wrapped.split("command: ", 1)[1].split(" (", 1)[0])
    assert command == ["medic", "job", "nightly-export", "--", "/app/export", "--full", "--target", "s3://exports"]
    assert any("'cache-warmer': container 'warmer' runs its image's entrypoint" in n for n in parsed.notes)


def test_a_manifest_that_is_not_yaml_is_refused(tmp_path, server):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: CronJob\n  spec: [\n")
    code, out = medic_import(server, "cronjob", str(bad))
    assert code == 1 and "not YAML" in out


def test_import_crontabs_then_a_second_run_changes_nothing(server, api, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(DATA / "etc-crontab", etc / "crontab")  # /etc/crontab: a user field, found by the path
    files = [str(DATA / "user.crontab"), str(etc / "crontab")]
    code, out = medic_import(server, "crontab", *files, "--dry-run")
    assert code == 0, out
    assert "+ service report-daily: create" in out and "dry run, nothing changed: 10 to create" in out
    assert services(api) == {}

    code, out = medic_import(server, "crontab", *files, "--team", "ops")
    assert code == 0, out
    assert "10 created" in out
    assert "crontab:22: skipped: schedule: cron: '61 * * * *' is not a valid cron expression" in out
    assert "    0 6 * * 1-5 medic job report-daily -- python3 /opt/jobs/report.py --daily" in out
    found = services(api)
    assert len(found) == 10
    report = found["report-daily"]
    assert report["team"] == "ops" and report["service_name"] == "report-daily"
    assert (report["schedule"]["kind"], report["schedule"]["cron"], report["schedule"]["timezone"],
            report["schedule"]["grace"]) == ("cron", "0 6 * * 1-5", "Europe/Berlin", 900)

    api.post("/service/report-daily", json={"team": "reports", "schedule": {"grace": 60}})  # tuned in Medic
    code, out = medic_import(server, "crontab", *files)
    assert code == 0, out
    assert "no changes" in out and "= service report-daily: unchanged" in out
    assert len(services(api)) == 10
    tuned = services(api)["report-daily"]
    assert tuned["team"] == "reports" and tuned["schedule"]["grace"] == 60


def test_a_changed_schedule_updates_the_service(server, api, tmp_path):
    path = tmp_path / "crontab"
    path.write_text("0 3 * * * /opt/bin/export.sh\n")
    assert medic_import(server, "crontab", str(path))[0] == 0
    path.write_text("CRON_TZ=Asia/Tokyo\n30 4 * * * /opt/bin/export.sh\n")
    code, out = medic_import(server, "crontab", str(path))
    assert code == 0, out
    assert "~ service export: updated" in out
    schedule = services(api)["export"]["schedule"]
    assert (schedule["cron"], schedule["timezone"]) == ("30 4 * * *", "Asia/Tokyo")


def test_import_cronjobs(server, api):
    path = str(DATA / "cronjobs.yaml")
    code, out = medic_import(server, "cronjob", path, "--prefix", "k8s-")
    assert code == 0, out
    assert "3 created" in out and "CronJob 'broken': skipped: schedule: cron: 'every day'" in out
    found = services(api)
    assert set(found) == {"k8s-nightly-export", "k8s-cache-warmer", "k8s-report"}
    export = found["k8s-nightly-export"]
    assert export["labels"] == {"namespace": "billing"} and export["schedule"]["max_runtime"] == 3600
    assert found["k8s-cache-warmer"]["active"] in (0, False)
    assert 'command: ["medic", "job", "k8s-nightly-export", "--", "/app/export"' in out
    code, out = medic_import(server, "cronjob", path, "--prefix", "k8s-")
    assert code == 0 and "no changes" in out
    assert len(services(api)) == 3


def test_a_prefix_that_cannot_start_a_name_is_refused(server, api):
    code, out = medic_import(server, "crontab", str(DATA / "user.crontab"), "--prefix", "web 1-")
    assert code == 2 and "--prefix" in out
    assert services(api) == {}
