"""A key never appears in logs, in replies or in the database in clear."""

from __future__ import annotations

import logging
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from medic.cli import main
from medic.logs import configure
from medic.store.tables import metadata
from tests.security.support import ADMIN_KEY, REQUIRED, bearer


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
