"""/health and /health/ready report a database that answers reads but cannot write."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text



def beat(api, name="svc-hb"):
    return api.post("/heartbeat", json={"heartbeat_name": name, "status": "UP"})


@pytest.fixture
def registered(api):
    response = api.post("/service", json={"heartbeat_name": "svc-hb", "service_name": "svc", "alert_interval": 5})
    assert response.status_code == 201


def test_a_full_sqlite_file_is_reported(backend, engine, api, registered, clock):
    if backend != "sqlite":
        pytest.skip("SQLite's own full-disk condition")
    assert api.get("/health").status_code == 200
    # SQLite's page limit gives the same SQLITE_FULL a full disk gives, on every connection.
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()

    def full(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()
    event.listen(engine, "connect", full)
    for _ in range(5000):
        if beat(api).status_code == 503:
            break
    else:
        pytest.fail("the page limit never filled")

    health = api.get("/health")
    assert health.status_code == 503
    database = health.json()["results"]["database"]
    assert database["status"] == "read-only"
    assert "full" in database["error"] and database["since"]
    assert "database cannot write" in health.json()["message"]
    ready = api.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["results"]["database"] == "read-only"

    # Room again: once writes work and the failure is older than 30 s, health recovers.
    event.remove(engine, "connect", full)
    engine.dispose()
    assert beat(api).status_code == 201
    assert api.get("/health").status_code == 503  # the failure is still recent
    clock.advance(seconds=31)
    assert api.get("/health").status_code == 200
    assert api.get("/health/ready").status_code == 200


def test_a_read_only_postgresql_is_reported(backend, engine, api, registered, clock):
    if backend != "postgresql":
        pytest.skip("PostgreSQL's read-only mode (what a standby answers after a failover)")
    name = engine.url.database
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        conn.commit()
    engine.dispose()
    try:
        assert beat(api).status_code == 503
        health = api.get("/health")
        assert health.status_code == 503
        database = health.json()["results"]["database"]
        assert database["status"] == "read-only" and "ReadOnlySqlTransaction" in database["error"]
        assert api.get("/health/ready").status_code == 503
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SET default_transaction_read_only = off"))
            conn.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        engine.dispose()
    assert beat(api).status_code == 201
    clock.advance(seconds=31)
    assert api.get("/health").status_code == 200

