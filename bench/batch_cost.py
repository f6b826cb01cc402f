"""Client CPU of one group-commit batch on PostgreSQL, by layer (one connection, no load).

    .venv/bin/python -m bench.batch_cost [--batch 4] [--count 2000]

Seeds medic_bench_batch with 1,000 services, then times the same batch of heartbeats
five ways: Medic's writer (``medic.ingest.transactions.write_autocommit()``: one autocommit statement on the
psycopg connection), ``record()`` in a transaction (what SQLite and direct writes use),
the batch statement in a transaction through SQLAlchemy, through ``exec_driver_sql``,
and straight on the psycopg connection. Prints wall and CPU (user + system) per batch:
what bypassing each layer would save the writer thread.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone

from bench import common, seed
from medic.ingest import transactions
from medic.store import heartbeats as store
from medic.store.engine import make_engine

DB = "medic_bench_batch"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    url = common.recreate_database(DB)
    seed.migrate(url)
    seed.seed_services(url, 1000, datetime.now(timezone.utc))
    engine = make_engine(url)
    names = [f"bench-{i}" for i in range(args.batch)]
    now = datetime.now(timezone.utc)
    _, params = store._batch_params([store.Beat(name, "UP") for name in names], now)  # what the writer binds
    sql = str(store._STORE_BATCH_PG.compile(dialect=engine.dialect))
    conn = engine.connect()

    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def medic_writer():
        transactions.write_autocommit(autocommit, [store.Beat(name, "UP") for name in names], now)

    def medic_record():
        with conn.begin():
            store.record(conn, [store.Beat(name, "UP") for name in names], now)

    def sqlalchemy_text():
        with conn.begin():
            list(conn.execute(store._STORE_BATCH_PG, params))

    def exec_driver_sql():
        with conn.begin():
            list(conn.exec_driver_sql(sql, params))

    def psycopg_direct():
        with conn.begin():
            conn.connection.driver_connection.execute(sql, params).fetchall()

    for run in range(2):
        for way in (medic_writer, medic_record, sqlalchemy_text, exec_driver_sql, psycopg_direct):
            for _ in range(20):
                way()
            before, started = os.times(), time.perf_counter()
            for _ in range(args.count):
                way()
            after, wall = os.times(), time.perf_counter() - started
            cpu = (after.user - before.user) + (after.system - before.system)
            print(f"run {run + 1} {way.__name__:16} wall {1000 * wall / args.count:.3f} ms, "
                  f"CPU {1000 * cpu / args.count:.3f} ms per batch of {args.batch}", flush=True)
    conn.close()
    autocommit.close()
    engine.dispose()


if __name__ == "__main__":
    main()
