"""MEDIC_DATABASE_READ_URL: the read-only routes read from the replica while it is up
and fresh, from the primary otherwise; writes always go to the primary. A second
database stands in for the standby here (it is "up" with no lag: not in recovery);
the cluster test (bench/failover.py) pauses a real standby's replay."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from medic.store.engine import make_engine
from medic.store.migrate import upgrade
from tests.ops.conftest import free_port

SERVICE = {"service_name": "svc", "alert_interval": 5}


@pytest.fixture
def replica_url(backend, engine):
    if backend != "postgresql":
        pytest.skip("a PostgreSQL standby")
    name = f"{engine.url.database}_replica"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = engine.url.set(database=name).render_as_string(hide_password=False)
    replica = make_engine(url)
    upgrade(replica)
    yield url, replica
    replica.dispose()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings_env(request) -> dict[str, str]:
    return {"MEDIC_DATABASE_READ_URL": request.getfixturevalue("read_url")}


@pytest.fixture
def read_url(request, backend) -> str:
    """The replica database's URL, or with the parameter "down" a port nothing listens on."""
    if backend != "postgresql":
        pytest.skip("a PostgreSQL standby")
    if getattr(request, "param", None) == "down":
        return f"postgresql://postgres@127.0.0.1:{free_port()}/medic?connect_timeout=1"
    return request.getfixturevalue("replica_url")[0]


def test_reads_come_from_the_replica_and_writes_go_to_the_primary(replica_url, api, engine):
    _, replica = replica_url
    with replica.begin() as conn:  # what the standby has replayed
        conn.execute(text(
            "INSERT INTO services (heartbeat_name, service_name, alert_interval, date_added, date_modified, deadline) "
            "VALUES ('replicated', 'svc', 5, now(), now(), 0)"))
    assert api.post("/service", json={"heartbeat_name": "written", **SERVICE}).status_code == 201
    with engine.connect() as conn:
        assert conn.execute(text("SELECT heartbeat_name FROM services")).scalars().all() == ["written"]
    assert api.get("/service/replicated").status_code == 200
    assert api.get("/service/written").status_code == 404  # not replayed yet: the stated staleness
    health = api.get("/health").json()["results"]["read_replica"]
    assert health["status"] == "up" and health["lag_seconds"] == 0.0


@pytest.mark.parametrize("read_url", ["down"], indirect=True)
def test_reads_fall_back_to_the_primary_when_the_replica_is_down(read_url, api):
    assert api.post("/service", json={"heartbeat_name": "written", **SERVICE}).status_code == 201
    assert api.get("/service/written").status_code == 200
    assert api.get("/heartbeat").status_code == 200
    assert api.get("/health").json()["results"]["read_replica"]["status"] == "down"
