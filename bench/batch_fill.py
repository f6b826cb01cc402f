"""How many heartbeats share a commit under load: `medic serve` on PostgreSQL, wrk at 16
and 64 connections, PostgreSQL's commit count (pg_stat_database.xact_commit, which also
counts the few other transactions of the run) against the rows stored.

    .venv/bin/python -m bench.batch_fill [--seconds 8]
"""

from __future__ import annotations

import argparse
import time

from bench import common, ingest

COMMITS = f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{ingest.MEDIC_DB}'"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    url, _ = ingest.databases()
    server = common.start_medic_serve(url)
    try:
        server.wait_ready()
        common.wrk(server.url, connections=16, seconds=2, services=ingest.SERVICES)  # warm
        for connections in (16, 64):
            rows, commits = ingest.medic_rows(url), common.pg_scalar(url, COMMITS)
            result = common.wrk(server.url, connections=connections, seconds=args.seconds, services=ingest.SERVICES)
            time.sleep(0.5)  # the last requests in flight
            stored, committed = ingest.medic_rows(url) - rows, common.pg_scalar(url, COMMITS) - commits
            print(f"{connections} connections: {stored} stored in {committed} commits, "
                  f"{stored / max(committed, 1):.2f} heartbeats per commit, {result['rps']:.0f} requests/s", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
