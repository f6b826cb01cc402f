"""`medic import medic` (docs/migrating.md, "Coming from the original Medic"): a database
with the original's schema (linq-team/medic migrations 000, 009 and 010: schema
``medic``, tables ``services``, ``"heartbeatEvents"``, ``alerts``) into Medic's, on
either backend, and a still-open incident resolved on its own PagerDuty dedup key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from medic.cli import main
from medic.cli.imports import import_original
from medic.store.engine import make_engine
from medic.store.tables import alerts, heartbeat_events, services
from tests.support.databases import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="the original Medic runs on PostgreSQL: set MEDIC_TEST_DATABASE_URL")

ORIGINAL_SCHEMA = """
CREATE SCHEMA medic;
CREATE TABLE medic.services (
    service_id SERIAL PRIMARY KEY,
    heartbeat_name text NOT NULL UNIQUE,
    service_name text,
    active integer NOT NULL DEFAULT 1,
    alert_interval integer NOT NULL,
    threshold integer NOT NULL DEFAULT 1,
    team text NOT NULL DEFAULT 'site-reliability',
    priority text NOT NULL DEFAULT 'p3',
    muted integer NOT NULL DEFAULT 0,
    down integer NOT NULL DEFAULT 0,
    runbook text,
    date_added timestamp with time zone DEFAULT NOW(),
    date_modified timestamp with time zone DEFAULT NOW(),
    date_muted timestamp with time zone,
    team_id integer,
    schedule_id integer,
    max_duration_ms integer,
    grace_period_seconds integer DEFAULT 0
);
CREATE TABLE medic."heartbeatEvents" (
    heartbeat_id SERIAL PRIMARY KEY,
    "time" timestamp with time zone NOT NULL DEFAULT NOW(),
    status text NOT NULL,
    service_id integer NOT NULL REFERENCES medic.services(service_id),
    run_id text
);
CREATE TABLE medic.alerts (
    alert_id SERIAL PRIMARY KEY,
    alert_name text,
    service_id integer NOT NULL REFERENCES medic.services(service_id),
    active integer NOT NULL DEFAULT 1,
    external_reference_id text,
    alert_cycle integer NOT NULL DEFAULT 1,
    created_date timestamp with time zone DEFAULT NOW(),
    closed_date timestamp with time zone
);
"""


@pytest.fixture
def original(clock):
    """A database named medic_import_original holding the original's schema and a fleet."""
    name = "medic_import_original"
    _admin(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=1)
    now = clock()
    with engine.begin() as conn:
        conn.execute(text(ORIGINAL_SCHEMA))
        conn.execute(text(
            "INSERT INTO medic.services (heartbeat_name, service_name, active, alert_interval, threshold, team, priority,"
            " muted, down, runbook, date_added, date_muted, max_duration_ms, grace_period_seconds) VALUES"
            " ('billing-hb', 'billing', 1, 5, 2, 'payments', 'P2', 0, 0, 'https://wiki.example.com/billing', :added, NULL, NULL, 60),"
            " ('search-indexer', 'search', 1, 10, 1, 'search', 'p1', 0, 1, NULL, :added, NULL, NULL, 0),"
            " ('nightly-export', 'exports', 1, 1440, 1, 'data', 'p3', 1, 0, 'not a url', :added, :muted, 5400500, 900),"
            " ('old-cron', NULL, 0, 60, 1, 'site-reliability', 'p9', 0, 0, NULL, :added, NULL, NULL, NULL),"
            " ('bad name with spaces', 'x', 1, 5, 1, 'x', 'p3', 0, 0, NULL, :added, NULL, NULL, 0)"),
            {"added": now - timedelta(days=90), "muted": now - timedelta(hours=2)})
        beats = []
        for minutes in range(0, 60, 2):  # billing: every two minutes for the last hour, UP
            beats.append({"sid": 1, "t": now - timedelta(minutes=minutes), "s": "UP"})
        beats.append({"sid": 1, "t": now - timedelta(days=45), "s": "UP"})  # older than the retention
        beats.append({"sid": 2, "t": now - timedelta(minutes=30), "s": "UP"})  # search: silent for 30 minutes
        beats += [{"sid": 3, "t": now - timedelta(hours=20, minutes=m), "s": s}  # a job's run, yesterday
                  for m, s in ((30, "STARTED"), (0, "COMPLETED"))]
        beats.append({"sid": 3, "t": now - timedelta(hours=1), "s": "FAILED"})
        conn.execute(text('INSERT INTO medic."heartbeatEvents" ("time", status, service_id) VALUES (:t, :s, :sid)'), beats)
        conn.execute(text(
            "INSERT INTO medic.alerts (alert_name, service_id, active, external_reference_id, created_date, closed_date) VALUES"
            " ('search-indexer is down', 2, 0, 'medic-search-indexer', :old, :old),"
            " ('search-indexer is down', 2, 1, 'medic-search-indexer', :opened, NULL)"),
            {"old": now - timedelta(days=3), "opened": now - timedelta(minutes=15)})
    yield engine
    engine.dispose()
    _admin(f"DROP DATABASE {name}")


def _admin(*statements: str) -> None:
    admin = make_engine(POSTGRES_URL, pool_size=1)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def _rows(engine, table, *where):
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).where(*where))]


def test_services_heartbeats_and_open_alerts_come_over_once(original, engine, clock):
    lines = []
    created, existing = import_original(original, engine, clock(), 30, False, lines.append)
    out = "\n".join(lines)
    assert (created, existing) == (4, 0), out
    assert "note: service 'bad name with spaces': skipped" in out
    assert "note: service 'nightly-export': runbook 'not a url' left out" in out
    assert "note: service 'old-cron': priority 'p9' is not p1 to p5, set to p3" in out
    assert "+ service search-indexer: created with 1 heartbeat(s), open alert (PagerDuty dedup key medic-search-indexer)" in out

    found = {r["heartbeat_name"]: r for r in _rows(engine, services)}
    assert set(found) == {"billing-hb", "search-indexer", "nightly-export", "old-cron"}
    billing = found["billing-hb"]
    assert (billing["service_name"], billing["alert_interval"], billing["threshold"], billing["team"], billing["priority"],
            billing["runbook"], billing["grace_period_seconds"], billing["active"], billing["muted"], billing["down"]) == (
        "billing", 5, 2, "payments", "p2", "https://wiki.example.com/billing", 60, True, False, False)
    assert billing["date_added"] == clock() - timedelta(days=90)
    assert billing["deadline"] > clock().timestamp()  # healthy: two heartbeats in the last five minutes
    export = found["nightly-export"]
    assert (export["muted"], export["date_muted"], export["max_duration_seconds"], export["runbook"]) == (
        True, clock() - timedelta(hours=2), 5401, None)
    assert export["last_status"] == "DOWN"  # the job's FAILED, as Medic's job routes store it
    assert (found["old-cron"]["active"], found["old-cron"]["service_name"], found["old-cron"]["priority"]) == (False, "old-cron", "p3")

    beats = _rows(engine, heartbeat_events, heartbeat_events.c.service_id == billing["service_id"])
    assert len(beats) == 30  # the one from 45 days ago is past the retention
    statuses = [b["status"] for b in sorted(_rows(engine, heartbeat_events, heartbeat_events.c.service_id == export["service_id"]),
                                            key=lambda b: b["time"])]
    assert statuses == ["UP", "UP", "DOWN"]

    search = found["search-indexer"]
    assert search["down"] is True and search["deadline"] <= clock().timestamp()
    (alert,) = _rows(engine, alerts)  # only the open one
    assert (alert["service_id"], alert["active"], alert["external_reference_id"], alert["created_date"]) == (
        search["service_id"], True, "medic-search-indexer", clock() - timedelta(minutes=15))

    lines.clear()
    assert import_original(original, engine, clock(), 30, False, lines.append) == (0, 4)
    assert "= service billing-hb: already in Medic, left as it is" in lines
    assert len(_rows(engine, heartbeat_events)) == 30 + 1 + 3 and len(_rows(engine, alerts)) == 1
    assert len(_rows(engine, services)) == 4


@pytest.fixture
def settings_env(pagerduty):
    return {"PAGERDUTY_ROUTING_KEY": "rk", "PAGERDUTY_EVENTS_URL": pagerduty.endpoint}


def test_the_open_incident_resolves_on_its_own_dedup_key(original, engine, clock, worker, api, pagerduty):
    import_original(original, engine, clock(), 30, False, lambda line: None)
    worker.run_once()
    assert pagerduty.requests == []  # still down: no second page for an incident already open
    assert api.post("/heartbeat", json={"heartbeat_name": "search-indexer", "status": "UP"}).status_code == 201
    worker.run_once()
    worker.run_once()
    events = [r.json for r in pagerduty.requests]
    assert [(e["event_action"], e["dedup_key"]) for e in events] == [("resolve", "medic-search-indexer")]


def test_the_command_dry_run_writes_nothing(original, engine):
    url = engine.url.render_as_string(hide_password=False)
    source = original.url.render_as_string(hide_password=False)
    runner = CliRunner()
    result = runner.invoke(main, ["import", "medic", "--from", source, "--dry-run"], env={"MEDIC_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "+ service billing-hb: create with" in result.output and "dry run, nothing changed: 4 to create" in result.output
    assert _rows(engine, services) == []
    result = runner.invoke(main, ["import", "medic", "--from", source], env={"MEDIC_DATABASE_URL": url})
    assert result.exit_code == 0 and "4 created, 0 already in Medic" in result.output
    result = runner.invoke(main, ["import", "medic", "--from", source], env={"MEDIC_DATABASE_URL": url})
    assert result.exit_code == 0 and "0 created, 4 already in Medic" in result.output


def test_a_database_without_the_original_tables_is_refused(engine):
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["import", "medic", "--from", POSTGRES_URL], env={"MEDIC_DATABASE_URL": url})
    assert result.exit_code == 1 and "not the original Medic's database" in result.output


def test_from_must_be_a_postgresql_url(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    for given in (f"sqlite:///{tmp_path}/x.db", "not a url"):
        result = CliRunner().invoke(main, ["import", "medic", "--from", given], env={"MEDIC_DATABASE_URL": url})
        assert result.exit_code == 2 and "postgresql://" in result.output
