"""The baseline: a minimal Flask app doing one INSERT per request through a psycopg 3 pool.

Run under the same gunicorn settings as `medic serve` (see bench/common.py):
    BASELINE_DATABASE_URL=postgresql://postgres@127.0.0.1/medic_bench_baseline \
      gunicorn -k gthread -w 4 --threads 16 bench.baseline:app
"""

from __future__ import annotations

import os
import threading

from flask import Flask, jsonify, request
from psycopg_pool import ConnectionPool

SCHEMA = """
CREATE TABLE IF NOT EXISTS baseline_heartbeats (
    heartbeat_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    heartbeat_name text NOT NULL,
    status text NOT NULL,
    time timestamptz NOT NULL DEFAULT now()
)
"""

app = Flask("baseline")
_pool: ConnectionPool | None = None
_lock = threading.Lock()


def pool() -> ConnectionPool:
    # Opened lazily, after gunicorn forked this worker process.
    global _pool
    with _lock:
        if _pool is None:
            size = int(os.environ.get("WEB_THREADS", "16"))
            _pool = ConnectionPool(os.environ["BASELINE_DATABASE_URL"], min_size=size, max_size=size, open=True)
    return _pool


@app.post("/heartbeat")
def heartbeat():
    body = request.get_json()
    with pool().connection() as conn:  # commits on exit
        heartbeat_id = conn.execute(
            "INSERT INTO baseline_heartbeats (heartbeat_name, status) VALUES (%s, %s) RETURNING heartbeat_id",
            (body["heartbeat_name"], body["status"]),
        ).fetchone()[0]
    return jsonify({"success": True, "results": {"heartbeat_id": heartbeat_id}}), 201
