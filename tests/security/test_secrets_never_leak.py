"""A key never appears in logs, in replies or in the database in clear."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import select

from medic.cli import main
from medic.config import load_settings
from medic.logs import configure
from medic.store.tables import metadata
from medic.web import create_app
from tests.fakes.providers import Response
from tests.security.support import ADMIN_KEY, REQUIRED, bearer
from tests.support.server import LiveServer


def _exercise(client, key: str, registered: str) -> None:
    secret = key.split("_", 2)[2]
    beat = {"heartbeat_name": registered, "status": "UP"}
    assert client.post("/heartbeat", json=beat, headers=bearer(key)).status_code == 201
    assert client.post("/heartbeat", json=beat, headers={"X-API-Key": key}).status_code == 201
    assert client.get("/service", headers=bearer(key)).status_code == 403
    assert client.get("/service", headers=bearer(key[:-1] + "x")).status_code == 401
    assert client.get("/service", headers=bearer(secret)).status_code == 401
    assert client.get("/service", headers=bearer(ADMIN_KEY)).status_code == 200
    assert client.get("/service", headers=bearer(ADMIN_KEY + "x")).status_code == 401
    for _ in range(3):  # into the rate limit
        client.post("/heartbeat", json=beat, headers=bearer(key))


def test_keys_never_appear_in_logs(serve, registered, make_key, caplog, capsys, restore_logging):
    key = make_key("heartbeat")
    secret = key.split("_", 2)[2]
    caplog.set_level(logging.DEBUG)
    with serve({**REQUIRED, "MEDIC_RATE_LIMIT_HEARTBEAT": "3/minute", "LOG_LEVEL": "DEBUG"}) as client:
        _exercise(client, key, registered)
    assert any(r.name == "medic.access" and r.status == 429 for r in caplog.records)  # the log was captured
    # Formatted as production formats them (JSON, every extra field included).
    configure("DEBUG", "json")
    formatter = logging.getLogger().handlers[0].formatter
    lines = [formatter.format(record) for record in caplog.records]
    for record, line in zip(caplog.records, lines):
        for secret_text in (key, secret, ADMIN_KEY):
            assert secret_text not in line, line
    assert any('"api_key": "' + key.split("_")[1] + '"' in line for line in lines)  # the id is logged
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err and ADMIN_KEY not in captured.out + captured.err


def test_keys_are_not_stored_in_clear(serve, engine, registered, make_key, backend, tmp_path):
    key = make_key("heartbeat")
    secret = key.split("_", 2)[2]
    with serve({**REQUIRED, "MEDIC_AUTH_CACHE_SECONDS": "0"}) as client:
        _exercise(client, key, registered)
    with engine.connect() as conn:
        dump = "\n".join(
            repr(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(select(table))
        )
    assert key.split("_")[1] in dump  # the public id is there: the dump is real
    assert secret not in dump and key not in dump and ADMIN_KEY not in dump
    if backend == "sqlite":
        raw = b"".join(path.read_bytes() for path in Path(tmp_path).glob("medic.db*"))
        assert secret.encode() not in raw and ADMIN_KEY.encode() not in raw


def test_the_cli_prints_a_key_once_and_only_its_id_afterwards(engine, monkeypatch, restore_logging):
    monkeypatch.setenv("MEDIC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    created = runner.invoke(main, ["key", "create", "--name", "ci", "--scopes", "heartbeat"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    listed = runner.invoke(main, ["key", "list"])
    assert key.split("_")[1] in listed.output
    assert key.split("_", 2)[2] not in listed.output


def test_channel_secrets_never_appear_in_logs_replies_or_the_database(
    engine, clock, webhook, slack, capsys, restore_logging, backend, tmp_path
):
    """The SMTP password, the Apprise URL's token and the webhook secret, through
    failing sends (the paths that quote what a server answered)."""
    import threading

    from medic.worker.loop import Worker
    from tests.fakes.smtp import FakeSMTP

    smtp_password = "smtp-" + secrets.token_hex(12)
    apprise_token = "apprise-" + secrets.token_hex(12)
    webhook_secret = "hook-" + secrets.token_hex(12)
    # Each stand-in echoes the secret it was sent, as a careless provider's error page might.
    webhook.set_default(Response(400, body=f"rejected {webhook_secret}".encode()))
    apprise_target = slack  # any stand-in answering every path
    apprise_target.set_default(Response(401, body=f"bad token {apprise_token}".encode()))
    with FakeSMTP(username="medic", password="another-password") as smtp:
        env = {
            **REQUIRED, "LOG_LEVEL": "DEBUG", "NOTIFY_TIMEOUT_SECONDS": "2",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_TLS": "none", "SMTP_USER": "medic",
            "SMTP_PASSWORD": smtp_password, "SMTP_FROM": "medic@example.com", "SMTP_TO": "oncall@example.com",
            "APPRISE_URL": f"json://medic:{apprise_token}@127.0.0.1:{apprise_target.port}/apprise/{apprise_token}",
            "MEDIC_WEBHOOK_URL": webhook.endpoint, "MEDIC_WEBHOOK_SECRET": webhook_secret,
        }
        url = engine.url.render_as_string(hide_password=False)
        settings = load_settings({"MEDIC_DATABASE_URL": url, **env})
        configure("DEBUG", "json")  # as `medic worker` does: Medic's own handler on stderr
        app = create_app(settings, engine=engine, clock=clock)
        with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=10) as client:
            body = {"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 1}
            assert client.post("/service", json=body, headers=bearer(ADMIN_KEY)).status_code == 201
            clock.advance(minutes=2)
            worker = Worker(settings, engine, clock=clock, run_daily_cleanup=False)
            stop = threading.Event()
            stop.set()
            worker.run_forever(stop)  # the startup lines
            worker = Worker(settings, engine, clock=clock, run_daily_cleanup=False)
            try:
                worker.run_once()
            finally:
                worker.close()
            replies = [client.get(path, headers=bearer(ADMIN_KEY)).text for path in ("/health", "/metrics", "/alerts")]
    assert len(webhook.requests) == len(apprise_target.requests) == 1 and smtp.auth_failures >= 1  # all failed
    with engine.connect() as conn:
        dump = "\n".join(repr(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(select(table)))
    assert "failed" in dump and "HTTP 400" in dump  # the errors were recorded
    output = capsys.readouterr()
    logs = output.out + output.err
    assert "channel apprise" in logs and "failed permanently" in logs  # the log was captured
    for secret in (smtp_password, apprise_token, webhook_secret):
        assert secret not in logs
        assert secret not in dump
        for reply in replies:
            assert secret not in reply
    if backend == "sqlite":
        raw = b"".join(path.read_bytes() for path in Path(tmp_path).glob("medic.db*"))
        for secret in (smtp_password, apprise_token, webhook_secret):
            assert secret.encode() not in raw
