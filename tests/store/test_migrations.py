"""Every migration goes up, down and up again with data in the database, on SQLite and
PostgreSQL (src/medic/store/migrate.py, src/medic/store/migrations/): a downgrade keeps
every row of the tables it does not own, and the schema after going back up is the
schema the first upgrade built."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, inspect, select, text

from medic.store.engine import make_engine, normalise_url
from medic.store.migrate import MIGRATIONS, current_revision, downgrade, upgrade
from medic.store.tables import (
    alerts, api_keys, heartbeat_events, job_runs, maintenance_windows, notifications, outage_gaps, route_targets,
    routes, service_dependencies, service_slots, services, worker_state,
)
from tests.support.databases import POSTGRES_URL

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SCHEMA = "medic_migration_check"  # PostgreSQL: a schema of its own inside the test database

REVISIONS = sorted(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*.py"))
# The tables each revision creates (and its downgrade drops); 0004 reshapes heartbeat_events.
OWNS = {"0001": {"services", "heartbeat_events", "alerts", "notifications", "worker_state"},
        "0002": {"job_runs"}, "0003": {"api_keys"}, "0004": set(), "0005": {"service_slots"}, "0006": set(),
        "0007": {"routes", "route_targets"}, "0008": set(), "0009": {"maintenance_windows"},
        "0010": {"outage_gaps"}, "0011": {"service_dependencies"}, "0012": set()}
# The columns a revision adds to a table it does not own (its downgrade drops them).
ADDS = {"0005": {"services": {"cron", "timezone", "start_margin_seconds", "min_runtime_seconds",
                              "last_success_at", "next_slot_at", "slot_check_at"}},
        "0006": {"notifications": {"maybe_sent"}},
        "0007": {"services": {"labels"}, "notifications": {"target_id"}, "alerts": {"escalated_at"}},
        "0008": {"services": {"muted_until"}},
        "0009": {"services": {"suppressed_until", "maintenance_id"}, "service_slots": {"maintenance_id"}},
        "0011": {"alerts": {"suppressed", "suppressed_by", "released_at"}},
        "0012": {"services": {"failures_to_open", "successes_to_close", "state_changes", "flapping_since",
                              "flap_quiet_at", "flap_dedup_key"}}}
TABLES = (services, heartbeat_events, alerts, notifications, worker_state, job_runs, api_keys, service_slots,
          routes, route_targets, maintenance_windows, outage_gaps, service_dependencies)


@pytest.fixture
def blank(backend, tmp_path):
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine = create_engine(normalise_url(POSTGRES_URL), connect_args={"options": f"-csearch_path={SCHEMA}"})
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
    admin.dispose()


def _seed(engine, revision: str) -> None:
    """Rows in the tables ``revision`` creates (ids chosen, so reseeding gives equal rows)."""
    with engine.begin() as conn:
        if revision == "0001":
            conn.execute(services.insert(), [
                {"service_id": n, "heartbeat_name": f"hb-{n}", "service_name": "svc", "alert_interval": 5,
                 "threshold": 1, "max_duration_seconds": 600 if n == 2 else None, "date_added": T0,
                 "date_modified": T0, "last_heartbeat_at": T0, "last_status": "UP", "deadline": 1.5e9 + n}
                for n in (1, 2)
            ])
            conn.execute(heartbeat_events.insert(), [
                {"heartbeat_id": n, "service_id": 1 + n % 2, "time": T0 - timedelta(hours=n), "status": "UP"}
                for n in range(1, 6)
            ])
            conn.execute(alerts.insert(), [{"alert_id": 1, "service_id": 1, "alert_name": "hb-1: missed",
                                            "active": True, "external_reference_id": "medic-1-x",
                                            "open_reason": "missed_heartbeats", "created_date": T0}])
            conn.execute(notifications.insert(), [
                {"notification_id": n, "alert_id": 1, "channel": channel, "kind": "trigger",
                 "payload": {"event": "trigger", "alert_id": 1}, "state": "pending", "attempts": 0,
                 "next_attempt_at": T0, "created_at": T0}
                for n, channel in ((1, "pagerduty"), (2, "slack"))
            ])
            conn.execute(worker_state.insert(), [{"name": "last_cycle", "value": "x", "updated_at": T0}])
        elif revision == "0002":
            conn.execute(job_runs.insert(), [{"job_run_id": 1, "service_id": 2, "run_id": "r1", "state": "running",
                                              "started_at": T0}])
        elif revision == "0003":
            conn.execute(api_keys.insert(), [{"key_id": 1, "public_id": "abc", "name": "ci", "secret_hash": "0" * 64,
                                              "scopes": "heartbeat", "created_at": T0}])
        elif revision == "0005":
            conn.execute(services.update().where(services.c.service_id == 1).values(
                cron="0 3 * * *", timezone="Europe/Berlin", start_margin_seconds=300, min_runtime_seconds=5,
                last_success_at=T0, next_slot_at=T0 + timedelta(hours=14), slot_check_at=1.6e9))
            conn.execute(service_slots.insert(), [{"service_id": 1, "slot_at": T0 - timedelta(days=1),
                                                   "outcome": "missed", "recorded_at": T0}])
        elif revision == "0007":
            conn.execute(routes.insert(), [{"route_id": 1, "name": "db", "match_team": "db", "match_labels": {"env": "prod"},
                                            "created_at": T0, "updated_at": T0}])
            conn.execute(route_targets.insert(), [{"target_id": 1, "route_id": 1, "role": "page", "position": 0,
                                                   "type": "slack", "config": {"channel": "CDB"}, "created_at": T0}])
            conn.execute(services.update().where(services.c.service_id == 1).values(labels={"env": "prod"}))
            conn.execute(notifications.update().where(notifications.c.notification_id == 2).values(target_id=1))
            conn.execute(alerts.update().where(alerts.c.alert_id == 1).values(escalated_at=T0))
        elif revision == "0008":
            conn.execute(services.update().where(services.c.service_id == 2).values(
                muted_until=T0 + timedelta(hours=2)))
        elif revision == "0009":
            conn.execute(maintenance_windows.insert(), [{"window_id": 1, "reason": "db upgrade", "team": "db",
                                                         "cron": "0 2 * * 0", "timezone": "Europe/Berlin",
                                                         "duration_minutes": 120, "created_at": T0, "updated_at": T0}])
            conn.execute(services.update().where(services.c.service_id == 1).values(
                suppressed_until=T0 + timedelta(hours=1), maintenance_id=1))
            conn.execute(service_slots.update().values(maintenance_id=1))
        elif revision == "0010":
            conn.execute(outage_gaps.insert(), [{"gap_id": 1, "started_at": T0, "ended_at": T0 + timedelta(minutes=10),
                                                 "cause": "web", "detected_at": T0 + timedelta(minutes=10)}])
        elif revision == "0011":
            conn.execute(service_dependencies.insert(), [{"service_id": 2, "depends_on_id": 1}])
            conn.execute(alerts.update().where(alerts.c.alert_id == 1).values(
                suppressed=True, suppressed_by=7, released_at=T0 + timedelta(minutes=5)))
        elif revision == "0012":
            conn.execute(services.update().where(services.c.service_id == 1).values(
                failures_to_open=3, successes_to_close=2, state_changes=[1.6e9], flapping_since=T0,
                flap_quiet_at=1.6e9 + 3600, flap_dedup_key="medic-1-x"))


def _rows(engine) -> dict[str, list[dict]]:
    found = inspect(engine)
    present = set(found.get_table_names())
    with engine.connect() as conn:
        out = {}
        for table in TABLES:
            if table.name not in present:
                continue
            columns = {c["name"] for c in found.get_columns(table.name)}
            query = select(*[c for c in table.columns if c.name in columns]).order_by(*table.primary_key.columns)
            out[table.name] = [dict(row._mapping) for row in conn.execute(query)]
        return out


def _without(rows: dict[str, list[dict]], revision: str) -> dict[str, list[dict]]:
    """``rows`` as they are once ``revision`` is undone: its tables and added columns gone."""
    added = ADDS.get(revision, {})
    return {
        name: [{k: v for k, v in row.items() if k not in added.get(name, ())} for row in table_rows]
        for name, table_rows in rows.items() if name not in OWNS[revision]
    }


def _schema(engine, *, with_partitions: bool = True) -> dict:
    """Tables, columns, indexes and foreign keys; ``with_partitions=False`` leaves out
    PostgreSQL's heartbeat partitions, whose days depend on the rows present when 0004 ran."""
    found = inspect(engine)
    names = [name for name in found.get_table_names() if with_partitions or not name.startswith("heartbeat_events_")]
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(name)],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(name)),
            sorted(str(fk["referred_table"]) for fk in found.get_foreign_keys(name)),
        )
        for name in sorted(names)
    }


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_every_migration_goes_up_down_and_up_again_with_data(blank, backend):
    engine = blank
    schemas = {}
    for revision in REVISIONS:  # up, one at a time, with data at each step
        upgrade(engine, revision)
        _seed(engine, revision)
        schemas[revision] = _schema(engine)
    assert current_revision(engine) == REVISIONS[-1]
    full = _rows(engine)
    assert {name for name, rows in full.items() if rows} == {table.name for table in TABLES}

    for index in reversed(range(len(REVISIONS))):  # each one down and up again, data kept
        revision = REVISIONS[index]
        before = _rows(engine)
        downgrade(engine, REVISIONS[index - 1] if index else "base")
        kept = _rows(engine)
        assert set(kept) == set(before) - OWNS[revision]
        assert kept == _without(before, revision)
        upgrade(engine, revision)
        assert _schema(engine) == schemas[revision]
        _seed(engine, revision)
        assert _rows(engine) == before
        downgrade(engine, REVISIONS[index - 1] if index else "base")  # on down to the next one
    assert current_revision(engine) is None
    assert _rows(engine) == {}

    upgrade(engine)  # and all the way up again
    for revision in REVISIONS:
        _seed(engine, revision)
    assert _schema(engine, with_partitions=False) == {
        name: shape for name, shape in schemas[REVISIONS[-1]].items() if not name.startswith("heartbeat_events_")
    }
    assert _rows(engine) == full
    with engine.begin() as conn:  # the rebuilt schema's defaults work
        conn.execute(notifications.insert().values(notification_id=3, alert_id=1, channel="webhook", kind="trigger",
                                                   payload={}, next_attempt_at=T0, created_at=T0))
        row = conn.execute(select(notifications).where(notifications.c.notification_id == 3)).one()
    assert (row.state, row.attempts) == ("pending", 0)
