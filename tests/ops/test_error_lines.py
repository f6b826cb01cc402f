"""A failure in a real `medic run` process is one log line naming the exception: no
traceback, SQL statement or parameters."""

from __future__ import annotations

import json
import sqlite3

import httpx

from tests.ops.conftest import free_port, medic_env, running


def test_a_database_error_is_one_line_naming_it(tmp_path):
    port = free_port()
    env = medic_env(tmp_path, PORT=str(port), LOG_FORMAT="json")
    log = tmp_path / "run.log"
    with running("run", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=log):
        with sqlite3.connect(tmp_path / "medic.db") as db:  # a schema the code no longer finds
            db.execute("drop table maintenance_windows")
        reply = httpx.get(f"http://127.0.0.1:{port}/v2/maintenance", timeout=10)
        assert reply.status_code == 503, reply.text
        assert reply.json()["success"] is False and "Traceback" not in reply.text and "maintenance" not in reply.text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            body = {"heartbeat_name": "svc", "service_name": "svc", "alert_interval": 5}
            assert client.post("/service", json=body).status_code == 201
            with sqlite3.connect(tmp_path / "medic.db") as db:
                db.execute("drop table heartbeat_events")
            refused = [client.post("/heartbeat", json={"heartbeat_name": "svc", "status": "UP"}).status_code
                       for _ in range(50)]
        assert refused == [503] * 50
    text = log.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    # One line for the outage, not one per refused request.
    [failed] = [r for r in records if r["message"].startswith("database unavailable")]
    assert failed["message"] == "database unavailable: OperationalError: no such table: maintenance_windows"
    assert "exc_info" not in failed
    assert "Traceback" not in text and "[SQL" not in text and "SELECT" not in text


def test_an_unescaped_at_sign_in_the_database_password_leaves_no_part_of_it_in_the_log(tmp_path):
    from tests.ops.conftest import medic

    env = medic_env(tmp_path, MEDIC_DATABASE_URL=f"postgresql://medic:pa@ss-tail-secret@127.0.0.1:{free_port()}/medic")
    result = medic("db", "upgrade", env=env)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "tail-secret" not in output, output
    assert "Traceback" not in output and '  File "' not in output, output
    [line] = [json.loads(line) for line in result.stderr.splitlines()]
    assert line["level"] == "ERROR" and line["message"].startswith("medic db: database error: OperationalError: ")


def test_requests_refused_during_a_database_outage_do_not_write_a_line_each(tmp_path):
    """The outage is reported by its throttled `database unavailable` lines; an access
    line per 503 would write hundreds of lines a second while the database is down
    (measured: about 155 a second from `medic serve` under 8 clients) and bury them."""
    port = free_port()
    env = medic_env(tmp_path, PORT=str(port), LOG_FORMAT="json")
    log = tmp_path / "run.log"
    with running("run", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=log):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            body = {"heartbeat_name": "svc", "service_name": "svc", "alert_interval": 5}
            assert client.post("/service", json=body).status_code == 201
            with sqlite3.connect(tmp_path / "medic.db") as db:
                db.execute("drop table heartbeat_events")
                db.execute("drop table services")
            before = len(log.read_text().splitlines())
            refused = [client.post("/heartbeat", json={"heartbeat_name": "svc", "status": "UP"}).status_code
                       for _ in range(40)]
            refused += [client.get("/service").status_code for _ in range(40)]
        assert refused == [503] * 80
    lines = log.read_text().splitlines()[before:]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert [r["message"] for r in records if r["logger"] == "medic.access" and r.get("status") == 503] == []
    assert len([r for r in records if r["message"].startswith("database unavailable")]) == 1
    assert len(records) <= 5, [r["message"] for r in records]
