"""Ingest.accept: what both front doors call, over the real writer and database."""

from __future__ import annotations

from sqlalchemy import func, select

from medic.ingest import Ingest
from medic.store import services as service_queries
from medic.store.tables import heartbeat_events


class Received:
    def __init__(self):
        self.statuses: list[str] = []

    def heartbeat_received(self, status: str) -> None:
        self.statuses.append(status)


def register(engine, clock, name: str, *, active: bool = True) -> None:
    values = {"heartbeat_name": name, "service_name": "svc", "alert_interval": 5, "threshold": 1,
              "team": "site-reliability", "priority": "p3", "grace_period_seconds": 0}
    with engine.begin() as conn:
        row, _ = service_queries.create(conn, values, clock())
        if not active:
            service_queries.update_service(conn, row, {"active": False}, clock())


def test_accept_answers_each_case_and_counts_only_stored_heartbeats(engine, clock):
    register(engine, clock, "up-hb")
    register(engine, clock, "off-hb", active=False)
    received = Received()
    ingest = Ingest.group_commit(engine, clock, metrics=received)
    try:
        stored = ingest.accept("UP-HB", "DEGRADED")
        unknown = ingest.accept("ghost", "UP")
        inactive = ingest.accept("off-hb", "UP")
    finally:
        ingest.close()

    assert (stored.status, stored.message) == (201, "heartbeat stored")
    assert stored.stored.heartbeat_name == "up-hb" and stored.stored.status == "DEGRADED"
    assert (unknown.status, unknown.stored) == (404, None)
    assert unknown.message == "heartbeat_name: no service is registered as 'ghost'"
    assert (inactive.status, inactive.stored) == (400, None)
    assert inactive.message == "heartbeat_name: the service 'off-hb' is inactive"
    assert received.statuses == ["DEGRADED"]
    with engine.connect() as conn:  # a 201 is a committed row
        assert conn.execute(select(func.count()).select_from(heartbeat_events)).scalar() == 1


def test_the_writer_counts_the_same_arrivals_the_front_door_enters(engine, clock):
    ingest = Ingest.group_commit(engine, clock)
    try:
        with ingest.arrivals:
            assert ingest.beats.arrivals.count == 1
        assert ingest.beats.arrivals.count == 0
    finally:
        ingest.close()
