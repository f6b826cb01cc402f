"""PostgreSQL keeps heartbeats in day partitions: cleanup drops whole expired days,
deletes row by row only what is left, and never loses or double-counts a heartbeat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from medic.metrics import process_metrics
from medic.store import partitions
from medic.store.engine import make_engine, normalise_url
from medic.store.migrate import downgrade, upgrade
from medic.worker.cleanup import CleanupIncomplete, run_cleanup
from tests.support.databases import POSTGRES_URL


@pytest.fixture
def postgres(backend, engine):
    """PostgreSQL only, with no partition but the default one left by earlier tests."""
    if backend != "postgresql":
        pytest.skip("day partitions are PostgreSQL's")
    with engine.begin() as conn:
        for partition in partitions.partitions(conn):
            if partition.name != partitions.DEFAULT:
                conn.execute(text(f'DROP TABLE "{partition.name}"'))


def rows_by_partition(engine) -> dict[str, int]:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT tableoid::regclass::text, count(*) FROM heartbeat_events GROUP BY 1"))
        return dict(found.all())


def partition_names(engine) -> set[str]:
    with engine.connect() as conn:
        return {p.name for p in partitions.partitions(conn)}


def deleted_rows_counted() -> float:
    labels = {"table": "heartbeat_events"}
    return process_metrics().registry.get_sample_value("medic_cleanup_deleted_rows_total", labels) or 0.0


def ensure_days(engine, first: date, last: date, today: date | None = None) -> list[str]:
    with engine.begin() as conn:
        return partitions.ensure_days(conn, first, last, today or first)


def test_cleanup_drops_expired_days_and_deletes_only_the_rest(postgres, medic, clock, engine, settings):
    clock.set(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))
    ensure_days(engine, date(2026, 3, 1), date(2026, 3, 2))
    medic.register(alert_interval=60)
    for _ in range(3):
        medic.beat()  # 1 March: wholly past retention at cleanup time
    clock.set(datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc))
    medic.beat()
    medic.beat()  # 2 March 06:00: before the cutoff
    clock.set(datetime(2026, 3, 2, 18, 0, tzinfo=timezone.utc))
    medic.beat()  # 2 March 18:00: after it
    assert rows_by_partition(engine) == {"heartbeat_events_p20260301": 3, "heartbeat_events_p20260302": 3}

    clock.set(datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc))  # cutoff: 2 March 12:00
    counted_before = deleted_rows_counted()
    deleted = run_cleanup(engine, settings, clock=clock, batch_size=1)
    assert deleted["heartbeat_events"] == 5
    assert rows_by_partition(engine) == {"heartbeat_events_p20260302": 1}
    names = partition_names(engine)
    assert "heartbeat_events_p20260301" not in names
    # The days ahead were created, so the next heartbeats do not land in the default.
    assert {partitions.day_name(date(2026, 4, day)) for day in range(1, 16)} <= names
    medic.beat()
    assert rows_by_partition(engine)["heartbeat_events_p20260401"] == 1
    assert deleted_rows_counted() - counted_before == 5  # dropped and deleted rows alike


def test_rows_in_the_default_partition_move_into_their_day_once_it_is_past(postgres, medic, clock, engine):
    clock.set(datetime(2031, 6, 1, 9, 0, tzinfo=timezone.utc))  # no partition covers this day
    medic.register(alert_interval=60)
    medic.beat()
    medic.beat(status="DOWN")
    assert rows_by_partition(engine) == {partitions.DEFAULT: 2}
    before = medic.service()

    # Today: heartbeats may still be arriving in the default partition, so the day is
    # left to it (moving its rows while more arrive would fail to attach).
    june_1 = date(2031, 6, 1)
    assert ensure_days(engine, date(2031, 5, 31), date(2031, 6, 2), today=june_1) == [
        "heartbeat_events_p20310531", "heartbeat_events_p20310602"
    ]
    medic.beat()
    assert rows_by_partition(engine) == {partitions.DEFAULT: 3}

    # The next day it is past: its rows move into their own partition.
    assert ensure_days(engine, date(2031, 5, 31), date(2031, 6, 2), today=date(2031, 6, 2)) == [
        "heartbeat_events_p20310601"
    ]
    assert rows_by_partition(engine) == {"heartbeat_events_p20310601": 3}
    assert ensure_days(engine, date(2031, 5, 31), date(2031, 6, 2), today=date(2031, 6, 2)) == []  # idempotent


def test_two_cleanups_at_once_drop_each_day_once(postgres, medic, clock, engine, settings):
    clock.set(datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc))
    ensure_days(engine, date(2026, 7, 1), date(2026, 7, 1))
    medic.register(alert_interval=60)
    medic.beat()
    clock.set(datetime(2026, 8, 10, 12, 0, tzinfo=timezone.utc))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(run_cleanup, engine, settings, clock=clock) for _ in range(2)]
        results = [run.result(timeout=30) for run in runs]  # neither fails
    assert sorted(r["heartbeat_events"] for r in results) == [0, 1]
    assert "heartbeat_events_p20260701" not in partition_names(engine)


def test_a_partition_that_cannot_be_dropped_waits_for_the_next_run(postgres, medic, clock, engine, settings):
    clock.set(datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc))
    ensure_days(engine, date(2026, 5, 1), date(2026, 5, 1))
    medic.register(alert_interval=60)
    medic.beat()
    medic.beat()
    clock.set(datetime(2026, 6, 10, 12, 0, tzinfo=timezone.utc))
    with engine.connect() as reader:
        # A long read of the table: DROP waits for its lock and gives up after
        # partitions.LOCK_TIMEOUT; the rows are not deleted one by one instead.
        reader.execute(text("LOCK TABLE heartbeat_events IN ACCESS SHARE MODE"))
        with pytest.raises(CleanupIncomplete, match="could not drop the expired partitions: .*lock timeout"):
            run_cleanup(engine, settings, clock=clock)
        reader.rollback()
    assert rows_by_partition(engine) == {"heartbeat_events_p20260501": 2}
    assert "medic_cleanup_last_success_timestamp_seconds" not in medic.api.get("/metrics").text  # not a success

    assert run_cleanup(engine, settings, clock=clock)["heartbeat_events"] == 2  # the next run
    assert "heartbeat_events_p20260501" not in partition_names(engine)
    assert "medic_cleanup_last_success_timestamp_seconds" in medic.api.get("/metrics").text


@pytest.fixture
def fresh_postgres(postgres):
    """An empty database of its own: migrations are run on it from the start."""
    url = make_url(normalise_url(POSTGRES_URL))
    name = f"{url.database}_migration"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}"'))
    admin.dispose()


def test_migration_keeps_existing_heartbeats_in_one_partition_until_they_expire(fresh_postgres, settings):
    engine = fresh_postgres
    upgrade(engine, "0003")
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO services (heartbeat_name, service_name, alert_interval, date_added, date_modified, deadline) "
                "VALUES ('old-hb', 'old', 5, now(), now(), 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO heartbeat_events (service_id, time, status) "
                "SELECT 1, now() - i * interval '1 day', 'UP' FROM generate_series(0, 9) AS i"
            )
        )
        conn.execute(text("INSERT INTO heartbeat_events (service_id, time, status) VALUES (1, now() + interval '3 days', 'UP')"))

    upgrade(engine)
    bound = (now + timedelta(days=1)).date()
    legacy = f"heartbeat_events_before_{bound:%Y%m%d}"
    # The row dated three days ahead (a clock ahead) went to the default partition
    # rather than stretch the old table's range.
    assert rows_by_partition(engine) == {legacy: 10, partitions.DEFAULT: 1}
    names = partition_names(engine)
    assert partitions.day_name(bound) in names and partitions.day_name(now.date()) not in names
    assert partitions.day_name((now + timedelta(days=3)).date()) not in names  # left to the default
    with engine.begin() as conn:
        new_id = conn.execute(
            text("INSERT INTO heartbeat_events (service_id, time, status) VALUES (1, :t, 'UP') RETURNING heartbeat_id"),
            {"t": partitions.midnight(bound) + timedelta(hours=2)},
        ).scalar_one()
    assert new_id == 12  # the sequence carried over
    assert rows_by_partition(engine) == {legacy: 10, partitions.DEFAULT: 1, partitions.day_name(bound): 1}

    # Dropped whole once its bound is past retention, with the rows it held counted.
    after = partitions.midnight(bound) + timedelta(days=settings.heartbeat_retention_days, hours=1)
    deleted = run_cleanup(engine, settings, clock=lambda: after)
    assert deleted["heartbeat_events"] == 10
    assert legacy not in partition_names(engine)
    assert rows_by_partition(engine) == {partitions.DEFAULT: 1, partitions.day_name(bound): 1}

    downgrade(engine, "0003")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'heartbeat_events'")).scalar() == "r"
        assert sorted(conn.execute(text("SELECT heartbeat_id FROM heartbeat_events")).scalars()) == [11, 12]
