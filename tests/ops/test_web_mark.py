"""The web mark as deployed (docs/alerting.md, "When Medic itself was down"): `medic
serve` (gunicorn: gevent on PostgreSQL, gthread on SQLite) and `medic run` (waitress)
move it every few seconds without a request, and a web process started after a
silence longer than MEDIC_GAP_SECONDS records the gap."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import select, update

from medic.store.engine import make_engine
from medic.store.gaps import WEB_MARK
from medic.store.tables import outage_gaps, worker_state
from tests.ops.conftest import medic, medic_env, running
from tests.ops.test_serve import _serve_env


def _mark(engine) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(select(worker_state.c.updated_at).where(worker_state.c.name == WEB_MARK)).scalar()


def _moves(engine, after: datetime | None, timeout: float = 15) -> datetime:
    deadline = time.monotonic() + timeout
    while True:
        found = _mark(engine)
        if found is not None and (after is None or found > after):
            return found
        assert time.monotonic() < deadline, "the web mark did not move"
        time.sleep(0.2)


def test_serve_marks_the_web_up_and_records_the_gap_after_a_silence(engine, tmp_path, port):
    env = _serve_env(engine, tmp_path, port, WEB_CONCURRENCY="2")
    assert medic("db", "upgrade", env=env).returncode == 0
    with running("serve", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=tmp_path / "a.log"):
        first = _moves(engine, None)
        _moves(engine, first)  # again, with no request in between
    # The web was down for ten minutes (its last mark set back instead of waiting).
    stopped = datetime.now(timezone.utc) - timedelta(minutes=10)
    with engine.begin() as conn:
        conn.execute(update(worker_state).where(worker_state.c.name == WEB_MARK).values(updated_at=stopped))
    with running("serve", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=tmp_path / "b.log"):
        _moves(engine, stopped)
        with engine.connect() as conn:
            [gap] = conn.execute(select(outage_gaps)).all()
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["results"]
    assert (gap.started_at, gap.cause) == (stopped, "web")
    assert 600 <= (gap.ended_at - gap.started_at).total_seconds() < 660
    assert health["last_gap"]["cause"] == "web" and health["last_gap"]["seconds"] >= 600
    assert "gap recorded: heartbeats could not be received" in (tmp_path / "b.log").read_text()


def test_run_marks_the_web_up(tmp_path, port):
    env = medic_env(tmp_path, PORT=str(port))
    engine = make_engine(env["MEDIC_DATABASE_URL"])
    try:
        with running("run", env=env, ready_url=f"http://127.0.0.1:{port}/health/live", stderr_path=tmp_path / "run.log"):
            _moves(engine, _moves(engine, None))
    finally:
        engine.dispose()
