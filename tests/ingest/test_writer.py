"""The group-commit heartbeat writer: behaviour only, never timings.

A batch is made deterministic with a gated clock: the writer reads the clock as it
starts a transaction, so holding the first read keeps the writer busy while the
test queues more heartbeats; releasing it lets them all go into the next batch.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from medic.store import heartbeats as store
from medic.store import services as service_queries
from medic.ingest import Arrivals, GroupCommitWriter
from medic.store.engine import make_engine
from medic.store.errors import DATABASE_UNAVAILABLE
from medic.store.tables import heartbeat_events, services
from medic.web import create_app
from tests.support.server import LiveServer


class GatedClock:
    """The test clock, except that its first read waits until ``release()``."""

    def __init__(self, clock):
        self.clock = clock
        self.first_read = threading.Event()
        self.gate = threading.Event()
        self._reads = 0
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            self._reads += 1
            first = self._reads == 1
        if first:
            self.first_read.set()
            assert self.gate.wait(10), "gate never released"
        return self.clock()

    def release(self) -> None:
        self.gate.set()


def register(engine, clock, name: str, **extra):
    values = {
        "heartbeat_name": name,
        "service_name": "svc",
        "alert_interval": 5,
        "threshold": 1,
        "team": "site-reliability",
        "priority": "p3",
        "grace_period_seconds": 0,
        **extra,
    }
    with engine.begin() as conn:
        row, _ = service_queries.create(conn, values, clock())
    return row


def wait_until_queued(writer: GroupCommitWriter, count: int) -> None:
    for _ in range(1000):
        if writer._queue.qsize() >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} heartbeats never queued")


class RecordingWriter(GroupCommitWriter):
    """The real writer, noting the size of each batch it writes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []

    def write(self, beats):
        self.batches.append(len(beats))
        return super().write(beats)


class Batch:
    """Submit beats from threads while the writer is held at its first batch."""

    def __init__(self, engine, clock):
        self.gated = GatedClock(clock)
        self.writer = RecordingWriter(engine, self.gated)
        self.pool = ThreadPoolExecutor(max_workers=32)

    def hold_writer(self, beat: store.Beat):
        future = self.pool.submit(self.writer.submit, beat)
        assert self.gated.first_read.wait(10)
        return future

    def queue(self, beats: list[store.Beat]):
        futures = [self.pool.submit(self.writer.submit, beat) for beat in beats]
        wait_until_queued(self.writer, len(beats))
        return futures

    def close(self) -> None:
        self.gated.release()
        self.writer.close()
        self.pool.shutdown(wait=True)


@pytest.fixture
def batch(engine, clock):
    b = Batch(engine, clock)
    yield b
    b.close()


def stored_rows(engine) -> dict[int, tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(heartbeat_events.c.heartbeat_id, heartbeat_events.c.service_id, heartbeat_events.c.status))
        return {row.heartbeat_id: (row.service_id, row.status) for row in rows}


def test_one_batch_stores_every_heartbeat_and_refuses_only_the_bad_names(engine, clock, batch):
    a = register(engine, clock, "a-hb")
    b = register(engine, clock, "b-hb")
    register(engine, clock, "off-hb")
    with engine.begin() as conn:
        service_queries.update_service(conn, service_queries.get_by_name(conn, "off-hb"), {"active": False}, clock())

    first = batch.hold_writer(store.Beat("a-hb", "UP"))
    beats = [
        store.Beat("A-HB", "UP"),
        store.Beat("ghost", "UP"),
        store.Beat("b-hb", "DEGRADED"),
        store.Beat("off-hb", "UP"),
        store.Beat("a-hb", "DOWN"),
        store.Beat("b-hb", "UP"),
    ]
    futures = batch.queue(beats)
    batch.gated.release()
    results = [future.result(timeout=10) for future in futures]
    first.result(timeout=10)

    assert results[1] == store.UNKNOWN
    assert results[3] == store.INACTIVE
    stored = [r for r in results if isinstance(r, store.Stored)]
    assert [(r.heartbeat_name, r.status) for r in stored] == [
        ("a-hb", "UP"), ("b-hb", "DEGRADED"), ("a-hb", "DOWN"), ("b-hb", "UP")
    ]
    # Each 201 names its own committed row, in submission order.
    rows = stored_rows(engine)
    assert len({r.heartbeat_id for r in stored}) == 4
    for r in stored:
        assert rows[r.heartbeat_id] == (r.service_id, r.status)
    assert [r.heartbeat_id for r in stored] == sorted(r.heartbeat_id for r in stored)
    assert len(rows) == 5  # the held first beat plus the four stored here
    assert batch.writer.batches == [1, len(beats)]  # everything queued behind the first went in one batch
    # The service ends in the state of its last heartbeat, as if applied one by one.
    with engine.connect() as conn:
        last = dict(conn.execute(select(services.c.service_id, services.c.last_status)).all())
    assert last[a.service_id] == "DOWN" and last[b.service_id] == "UP"


def test_threshold_services_get_their_deadline_counted_in_a_batch(engine, clock, batch):
    register(engine, clock, "t-hb", threshold=3)
    first = batch.hold_writer(store.Beat("t-hb", "UP"))
    futures = batch.queue([store.Beat("t-hb", "UP"), store.Beat("t-hb", "UP")])
    batch.gated.release()
    first.result(timeout=10)
    for future in futures:
        assert isinstance(future.result(timeout=10), store.Stored)
    with engine.connect() as conn:
        row = service_queries.get_by_name(conn, "t-hb")
    # Three good heartbeats within the window: healthy for one window from the oldest.
    assert row.deadline == pytest.approx(clock().timestamp() + 5 * 60)


def test_cron_services_beating_in_one_batch_are_each_stored_and_met(engine, clock, batch):
    # Most heartbeats to a cron service meet a slot already met: the batch records
    # them together (one statement for many services), which must not fail the batch.
    names = [f"cron-{i}" for i in range(3)]
    for name in names:
        register(engine, clock, name, cron="*/5 * * * *", timezone="Europe/Berlin", grace_period_seconds=300)
    with engine.begin() as conn:  # each slot met once already
        store.record(conn, [store.Beat(name, "UP") for name in names], clock())
    first = batch.hold_writer(store.Beat(names[0], "UP"))
    futures = batch.queue([store.Beat(name, "UP") for name in names])
    batch.gated.release()
    for future in [first, *futures]:
        assert isinstance(future.result(timeout=10), store.Stored)
    assert len(stored_rows(engine)) == 2 * len(names) + 1


def test_a_heartbeat_that_breaks_the_batch_fails_alone(engine, clock, batch):
    register(engine, clock, "a-hb")
    register(engine, clock, "b-hb")
    first = batch.hold_writer(store.Beat("a-hb", "UP"))
    # A status of None violates NOT NULL on insert: the batch fails, then each beat is retried alone.
    futures = batch.queue([store.Beat("a-hb", "UP"), store.Beat("b-hb", None), store.Beat("b-hb", "UP")])
    batch.gated.release()
    first.result(timeout=10)
    good_1, bad, good_2 = futures
    assert isinstance(good_1.result(timeout=10), store.Stored)
    assert isinstance(good_2.result(timeout=10), store.Stored)
    with pytest.raises(Exception) as raised:
        bad.result(timeout=10)
    assert "null" in str(raised.value).lower()
    assert len(stored_rows(engine)) == 3


def test_close_stores_everything_already_submitted(engine, clock, batch):
    register(engine, clock, "a-hb")
    first = batch.hold_writer(store.Beat("a-hb", "UP"))
    futures = batch.queue([store.Beat("a-hb", "UP") for _ in range(10)])
    closing = threading.Thread(target=batch.writer.close)
    closing.start()
    batch.gated.release()
    closing.join(timeout=10)
    assert not closing.is_alive()
    results = [first.result(timeout=10)] + [future.result(timeout=10) for future in futures]
    assert all(isinstance(r, store.Stored) for r in results)
    assert set(stored_rows(engine)) == {r.heartbeat_id for r in results}
    # After close, a late heartbeat is still stored (written directly, no writer).
    late = batch.writer.submit(store.Beat("a-hb", "DOWN"))
    assert isinstance(late, store.Stored) and late.heartbeat_id in stored_rows(engine)


def test_database_outage_fails_every_waiting_request(clock):
    dead = make_engine("postgresql://medic@127.0.0.1:1/medic")  # nothing listens on port 1
    writer = GroupCommitWriter(dead, clock)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(writer.submit, store.Beat(f"s{i}", "UP")) for i in range(8)]
            for future in futures:
                with pytest.raises(DATABASE_UNAVAILABLE):
                    future.result(timeout=30)
    finally:
        writer.close()
        dead.dispose()


def test_database_outage_answers_503_to_each_request(settings, clock):
    dead = make_engine("postgresql://medic@127.0.0.1:1/medic")
    app = create_app(settings, engine=dead, clock=clock)
    try:
        with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as client:
            with ThreadPoolExecutor(max_workers=8) as pool:
                replies = list(
                    pool.map(lambda i: client.post("/heartbeat", json={"heartbeat_name": f"s{i}", "status": "UP"}), range(8))
                )
        for reply in replies:
            assert reply.status_code == 503
            assert reply.json()["success"] is False
    finally:
        app.extensions["medic"].ingest.close()
        dead.dispose()


def test_concurrent_requests_over_http_are_each_stored(api, engine):
    for i in range(4):
        assert api.post("/service", json={"heartbeat_name": f"c{i}-hb", "service_name": "svc", "alert_interval": 5}).status_code == 201
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(
            pool.map(lambda i: api.post("/heartbeat", json={"heartbeat_name": f"c{i % 4}-hb", "status": "UP"}), range(64))
        )
    assert [r.status_code for r in replies] == [201] * 64
    ids = {r.json()["results"]["heartbeat_id"] for r in replies}
    assert len(ids) == 64
    assert set(stored_rows(engine)) == ids


def test_a_threshold_service_gets_the_same_deadline_as_written_one_by_one(engine, clock):
    # On PostgreSQL the writer stores in autocommit and recounts threshold deadlines in
    # a transaction of its own; the outcome must match one transaction per heartbeat.
    register(engine, clock, "batched-hb", threshold=2)
    register(engine, clock, "direct-hb", threshold=2)
    writer = GroupCommitWriter(engine, clock)
    try:
        for status in ("UP", "UP", "DOWN", "UP", "UP"):
            clock.advance(seconds=30)
            assert isinstance(writer.submit(store.Beat("batched-hb", status)), store.Stored)
            with engine.begin() as conn:
                assert isinstance(store.record(conn, [store.Beat("direct-hb", status)], clock())[0], store.Stored)
            with engine.connect() as conn:
                batched = service_queries.get_by_name(conn, "batched-hb").deadline
                direct = service_queries.get_by_name(conn, "direct-hb").deadline
            assert batched == pytest.approx(direct), status
    finally:
        writer.close()


LIMITED_ROLE = "medic_test_limited"


@pytest.fixture
def limited_engine(engine, backend):
    """PostgreSQL as a role that may store heartbeats but not read their time and status,
    which the threshold recount needs: a real failure after the batch statement committed."""
    if backend != "postgresql":
        pytest.skip("the autocommit batch path is PostgreSQL's")
    grants = [
        f"CREATE ROLE {LIMITED_ROLE} LOGIN",
        f"GRANT USAGE ON SCHEMA public TO {LIMITED_ROLE}",
        f"GRANT SELECT, UPDATE ON services TO {LIMITED_ROLE}",
        f"GRANT INSERT ON heartbeat_events TO {LIMITED_ROLE}",
        f"GRANT SELECT (heartbeat_id, service_id) ON heartbeat_events TO {LIMITED_ROLE}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {LIMITED_ROLE}",
    ]

    def drop_role(conn):
        if conn.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{LIMITED_ROLE}'").first():
            conn.exec_driver_sql(f"DROP OWNED BY {LIMITED_ROLE}")
            conn.exec_driver_sql(f"DROP ROLE {LIMITED_ROLE}")

    with engine.begin() as conn:
        drop_role(conn)
        for statement in grants:
            conn.exec_driver_sql(statement)
    limited = make_engine(engine.url.set(username=LIMITED_ROLE, password=None).render_as_string(hide_password=False))
    yield limited
    limited.dispose()
    with engine.begin() as conn:
        drop_role(conn)


def test_a_failed_recount_fails_only_its_heartbeats_and_writes_none_twice(engine, clock, limited_engine):
    register(engine, clock, "plain-hb")
    register(engine, clock, "counted-hb", threshold=2)
    with engine.connect() as conn:
        deadline_before = service_queries.get_by_name(conn, "counted-hb").deadline
    writer = GroupCommitWriter(limited_engine, clock)
    try:
        assert isinstance(writer.submit(store.Beat("plain-hb", "UP")), store.Stored)
        clock.advance(seconds=60)  # a deadline moved by this heartbeat would differ from the old one
        with pytest.raises(Exception) as raised:
            writer.submit(store.Beat("counted-hb", "UP"))
        assert "permission denied" in str(raised.value)
        # The writer is still healthy after it.
        assert isinstance(writer.submit(store.Beat("plain-hb", "UP")), store.Stored)
    finally:
        writer.close()
    with engine.connect() as conn:
        counted = service_queries.get_by_name(conn, "counted-hb")
    # Stored once (the statement committed; nothing retried it), its deadline not moved.
    assert [service_id for service_id, _ in stored_rows(engine).values()].count(counted.service_id) == 1
    assert len(stored_rows(engine)) == 3
    assert counted.deadline == deadline_before



def test_a_recount_counts_with_settings_changed_while_the_batch_waited(engine, backend, clock):
    # A PATCH queued behind the batch on the service's row lock commits between the
    # autocommit statement and the recount: the recount must use the new settings.
    if backend != "postgresql":
        pytest.skip("the autocommit batch path is PostgreSQL's")
    register(engine, clock, "hb", threshold=2, alert_interval=60)
    for _ in range(2):
        clock.advance(minutes=30)
        with engine.begin() as conn:
            store.record(conn, [store.Beat("hb", "UP")], clock())
    clock.advance(minutes=1)

    def waiting_on_locks() -> int:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).scalar()

    def wait_for_waiters(count: int) -> None:
        for _ in range(1000):
            if waiting_on_locks() >= count:
                return
            threading.Event().wait(0.01)
        raise AssertionError(f"{count} sessions never waited on the lock")

    def patch() -> None:
        with engine.begin() as conn:
            service_queries.update_service(conn, service_queries.get_by_name(conn, "hb"), {"alert_interval": 5}, clock())

    writer = GroupCommitWriter(engine, clock)
    holder = engine.connect()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            with holder.begin():
                holder.exec_driver_sql("SELECT 1 FROM services WHERE heartbeat_name = 'hb' FOR UPDATE")
                beat = pool.submit(writer.submit, store.Beat("hb", "UP"))
                wait_for_waiters(1)
                patched = pool.submit(patch)
                wait_for_waiters(2)
            assert isinstance(beat.result(timeout=30), store.Stored)
            patched.result(timeout=30)
    finally:
        holder.close()
        writer.close()
    with engine.connect() as conn:
        service = service_queries.get_by_name(conn, "hb")
        assert service.alert_interval == 5
        assert service.deadline == pytest.approx(service_queries.compute_deadline(conn, dict(service._mapping)))


def lingering(writer, future) -> None:
    """Return once the writer has taken ``future``'s heartbeat and is waiting for company."""
    for _ in range(500):
        if writer._queue.qsize() == 0 and not future.done():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the writer wrote the heartbeat alone")


@pytest.fixture
def slow_linger(engine, clock):
    """(writer, arrivals, beat): a writer whose linger is far beyond the waits of a test,
    so a writer that lingered when it should not would fail them."""
    register(engine, clock, "svc-hb")
    arrivals = Arrivals()
    writer = RecordingWriter(engine, clock, arrivals=arrivals, linger_seconds=60)
    yield writer, arrivals, store.Beat("svc-hb", "UP")
    writer.close()


def test_the_writer_lingers_only_while_more_heartbeats_are_in_the_app(engine, slow_linger):
    writer, arrivals, beat = slow_linger
    with ThreadPoolExecutor(max_workers=2) as pool:
        with arrivals:  # the only heartbeat in the app: nobody to wait for
            assert isinstance(pool.submit(writer.submit, beat).result(timeout=20), store.Stored)
        assert writer.batches == [1]

        with arrivals, arrivals:  # two in the app: the first waits for the second
            first = pool.submit(writer.submit, beat)
            lingering(writer, first)
            second = pool.submit(writer.submit, beat)
            results = [first.result(timeout=20), second.result(timeout=20)]
    assert all(isinstance(r, store.Stored) for r in results)
    assert writer.batches == [1, 2]
    assert len(stored_rows(engine)) == 3


def test_the_writer_waits_for_as_many_heartbeats_as_its_last_batch_held(slow_linger):
    """Under a steady load the clients of the last batch send their next heartbeats as
    soon as they are answered, before the app counts them: the writer waits for as many
    (at most its linger), then expects what the batch it got held."""
    writer, arrivals, beat = slow_linger
    with ThreadPoolExecutor(max_workers=3) as pool:
        with arrivals, arrivals:  # a batch of two
            first = pool.submit(writer.submit, beat)
            lingering(writer, first)
            pool.submit(writer.submit, beat).result(timeout=20)
        first = pool.submit(writer.submit, beat)  # nobody in the app: still, two are expected
        lingering(writer, first)
        second = pool.submit(writer.submit, beat)
        results = [first.result(timeout=20), second.result(timeout=20)]
    assert all(isinstance(r, store.Stored) for r in results)
    assert writer.batches == [2, 2]
