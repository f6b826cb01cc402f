"""Medic's own outages (docs/alerting.md, "When Medic itself was down"): with the web
stopped, the database unreachable or no worker cycle for longer than MEDIC_GAP_SECONDS,
services due inside the gap get a fresh window from its end instead of paging, their
cron slots inside it are `unknown`, and those that stay silent still page within one
window of the end. The real worker, web mark and database; the clock is injected."""

from __future__ import annotations

import logging

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from medic.ingest.transactions import commit_once
from medic.store import services as service_store
from medic.store.heartbeats import Beat
from medic.store.tables import alerts, outage_gaps, services
from tests.support.databases import database_unreachable

WINDOW = timedelta(seconds=60)  # alert_interval 1, no grace
CYCLE = timedelta(seconds=15)  # WORKER_INTERVAL_SECONDS


@pytest.fixture
def settings_env() -> dict[str, str]:
    return {"MEDIC_GAP_DETECTION": "true", "MEDIC_GAP_SECONDS": "60", "WORKER_INTERVAL_SECONDS": "15"}


@pytest.fixture
def mark(app):
    """The web process's mark, written by hand on the test's clock ("the web is up")."""
    return app.extensions["medic"].web_mark


class Fleet:
    def __init__(self, engine, clock, count: int, prefix: str = "svc", **settings):
        self.engine, self.clock = engine, clock
        self.names = [f"{prefix}-{n}" for n in range(count)]
        with engine.begin() as conn:
            for name in self.names:
                service_store.create(conn, {"heartbeat_name": name, "service_name": "fleet", "alert_interval": 1,
                                            "threshold": 1, "grace_period_seconds": 0, **settings}, clock())

    def beat(self, names=None) -> None:
        commit_once(self.engine, [Beat(name, "UP") for name in (self.names if names is None else names)], self.clock())


def drive(clock, worker, seconds: int, *, mark=None, fleet=None, beating=()) -> None:
    """Move the clock one worker interval at a time: the web marks itself up (with
    ``mark``), the services ``beating`` beat every 30 s, the worker runs a cycle."""
    for _ in range(seconds // int(CYCLE.total_seconds())):
        now = clock.advance(seconds=CYCLE.total_seconds())
        if mark is not None:
            mark.write()
        if beating and now.timestamp() % 30 == 0:
            fleet.beat(beating)
        worker.step()


def paged(engine) -> dict[str, object]:
    """Heartbeat name -> when its (first) alert opened."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(services.c.heartbeat_name, func.min(alerts.c.created_date))
            .join(alerts, alerts.c.service_id == services.c.service_id).group_by(services.c.heartbeat_name)
        ).all()
    return dict(rows)


def gap_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(outage_gaps).order_by(outage_gaps.c.ended_at)).all()


def resume_after(engine, clock, worker, mark, fleet, end, resuming, silent) -> None:
    """After the gap: zero pages for the services that resume, a page within one window
    of the gap's end (plus the cycle that notices) for each that does not."""
    drive(clock, worker, 180, mark=mark, fleet=fleet, beating=resuming)
    pages = paged(engine)
    assert set(pages) == set(silent)
    assert all(end < opened <= end + WINDOW + CYCLE for opened in pages.values()), sorted(set(pages.values()))


def test_web_stopped_ten_minutes_pages_only_the_services_that_stay_silent(engine, clock, mark, worker, api):
    fleet = Fleet(engine, clock, 1000)
    resuming, silent = fleet.names[:900], fleet.names[900:]
    mark.write()
    fleet.beat()
    drive(clock, worker, 60, mark=mark, fleet=fleet, beating=fleet.names)
    stopped = clock()
    drive(clock, worker, 600)  # no web process: no mark, no heartbeat can arrive
    assert paged(engine) == {}, "pages are held while no web process could receive"
    gap = mark.write()  # a web process starts again
    end = clock()
    assert (gap.start, gap.end, gap.cause) == (stopped, end, "web")
    resume_after(engine, clock, worker, mark, fleet, end, resuming, silent)
    [row] = gap_rows(engine)
    assert row.applied_at is not None
    last_gap = api.get("/health").json()["results"]["last_gap"]
    assert last_gap == {"start": stopped.isoformat(), "end": end.isoformat(), "seconds": 600.0, "cause": "web"}


def test_database_unreachable_ten_minutes_pages_only_the_services_that_stay_silent(
        engine, clock, mark, worker, api, caplog):
    caplog.set_level(logging.INFO, logger="medic.web")
    fleet = Fleet(engine, clock, 1000)
    resuming, silent = fleet.names[:900], fleet.names[900:]
    mark.write()
    fleet.beat()
    drive(clock, worker, 60, mark=mark, fleet=fleet, beating=fleet.names)
    with database_unreachable(engine):  # every worker cycle and web mark fails for 10 minutes
        for _ in range(40):
            clock.advance(seconds=CYCLE.total_seconds())
            assert mark.write() is None
            assert worker.step() is None
    assert worker.failing_since is not None
    mark.write()
    end = clock()
    resume_after(engine, clock, worker, mark, fleet, end, resuming, silent)
    causes = {row.cause for row in gap_rows(engine)}
    assert causes == {"database"}
    assert api.get("/health").json()["results"]["last_gap"]["cause"] == "database"
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("web mark not written")]
    assert len(said) == 2, said  # when the marks began failing and when one was written again
    assert said[0].startswith("web mark not written (retried every 5 s): database error: ") and "Error" in said[0]
    assert said[1].startswith("web mark not written") and ": recovered after 40 failures in " in said[1]


def test_no_worker_cycle_for_ten_minutes_is_a_gap(engine, clock, mark, worker, caplog):
    fleet = Fleet(engine, clock, 50)
    mark.write()
    fleet.beat()
    drive(clock, worker, 30, mark=mark, fleet=fleet, beating=fleet.names)
    last_cycle = clock()
    for _ in range(40):  # the web is up, the worker is not
        clock.advance(seconds=CYCLE.total_seconds())
        mark.write()
    fleet.beat(fleet.names[:10])
    with caplog.at_level("WARNING", logger="medic.worker"):
        worker.step()
    [row] = gap_rows(engine)
    assert (row.started_at, row.ended_at, row.cause) == (last_cycle, clock(), "worker")
    assert any("gap detected: no worker cycle ran" in r.getMessage() and "(600 s)" in r.getMessage()
               for r in caplog.records)
    assert paged(engine) == {}
    end = clock()
    drive(clock, worker, 120, mark=mark, fleet=fleet, beating=fleet.names[:10])
    pages = paged(engine)
    assert set(pages) == set(fleet.names[10:])
    assert all(opened <= end + WINDOW + CYCLE for opened in pages.values())


def test_a_gap_shorter_than_the_threshold_changes_nothing(engine, clock, mark, worker):
    fleet = Fleet(engine, clock, 20)
    mark.write()
    fleet.beat()
    began = clock()
    with engine.connect() as conn:
        before = dict(conn.execute(select(services.c.heartbeat_name, services.c.deadline)).all())
    clock.advance(seconds=45)  # neither web nor worker for 45 s
    assert mark.write() is None
    worker.step()
    with engine.connect() as conn:
        assert dict(conn.execute(select(services.c.heartbeat_name, services.c.deadline)).all()) == before
    drive(clock, worker, 30, mark=mark)
    assert gap_rows(engine) == []
    pages = paged(engine)
    assert set(pages) == set(fleet.names)
    assert set(pages.values()) == {began + WINDOW}  # as without the silence


def test_cron_slots_inside_the_gap_are_unknown(engine, clock, mark, worker, api):
    """A job every 5 minutes with 60 s of grace; the web is down 12:05-12:15:30."""
    fleet = Fleet(engine, clock, 2, prefix="job", cron="*/5 * * * *", timezone="UTC", grace_period_seconds=60)
    resuming, silent = fleet.names
    mark.write()
    clock.advance(minutes=4)  # 12:04
    mark.write()
    fleet.beat()  # meets 12:05
    drive(clock, worker, 60, mark=mark)  # to 12:05
    drive(clock, worker, 630)  # the web is down until 12:15:30; slots 12:10 and 12:15 fall in it
    assert paged(engine) == {}
    end = clock()
    assert mark.write().seconds == 630
    clock.advance(seconds=15)
    mark.write()
    fleet.beat([resuming])  # 12:15:45: meets 12:15 late, within its grace
    drive(clock, worker, 600, mark=mark, fleet=fleet, beating=[resuming])  # to 12:25:45
    slots = {name: api.get(f"/v2/services/{name}/slots").json()["results"] for name in fleet.names}
    outcomes = {name: [(s["slot_at"][11:16], s["outcome"]) for s in found] for name, found in slots.items()}
    assert outcomes[resuming][:3] == [("12:05", "on_time"), ("12:10", "unknown"), ("12:15", "late")]
    assert outcomes[silent][:4] == [("12:05", "on_time"), ("12:10", "unknown"), ("12:15", "unknown"), ("12:20", "missed")]
    pages = paged(engine)
    # The silent job pages when the first slot after the gap closes (12:20 + 60 s grace).
    assert set(pages) == {silent} and pages[silent] - end <= timedelta(minutes=6)


def test_detection_off_pages_as_today(engine, clock, settings, mark):
    from medic.worker.loop import Worker

    today = Worker(settings.model_copy(update={"gap_detection": False}), engine, clock=clock, run_daily_cleanup=False)
    try:
        fleet = Fleet(engine, clock, 100)
        mark.write()
        fleet.beat()
        drive(clock, today, 600)  # the web is down 10 minutes: every service pages, as before
        assert set(paged(engine)) == set(fleet.names)
        mark.write()  # the web process still records the gap; the worker applies nothing
        drive(clock, today, 30, mark=mark)
        assert [row.applied_at for row in gap_rows(engine)] == [None]
    finally:
        today.close()


def test_two_workers_detecting_the_same_gap_apply_it_once(engine, clock, mark, make_worker):
    first, second = make_worker(), make_worker()
    fleet = Fleet(engine, clock, 10)
    mark.write()
    fleet.beat()
    clock.advance(seconds=5)
    first.step()
    clock.advance(minutes=10)  # nothing ran: web and workers down
    mark.write()  # the web's gap, from its last mark
    # Both workers evaluate before either records its cycle: both see the same silence.
    results = [first.evaluate(), second.evaluate()]
    assert [len(result.gaps) for result in results] == [2, 0]
    with engine.connect() as conn:
        rows = conn.execute(select(outage_gaps.c.cause, outage_gaps.c.applied_at.is_not(None))).all()
        deadlines = set(conn.execute(select(services.c.deadline)).scalars())
    assert sorted(rows) == [("web", True), ("worker", True)]
    assert deadlines == {(clock() + WINDOW).timestamp()}
    assert paged(engine) == {}


def test_a_service_down_before_the_gap_keeps_its_alert(engine, clock, mark, worker):
    fleet = Fleet(engine, clock, 1)
    mark.write()
    drive(clock, worker, 75, mark=mark)  # never reported: pages after one window
    assert set(paged(engine)) == set(fleet.names)
    with engine.connect() as conn:
        before = conn.execute(select(services.c.deadline)).scalar_one()
    clock.advance(minutes=10)
    mark.write()
    worker.step()
    with engine.connect() as conn:
        assert conn.execute(select(alerts.c.active)).scalars().all() == [True]
        assert conn.execute(select(services.c.deadline)).scalar_one() == before
    assert len(gap_rows(engine)) == 1


def test_two_workers_at_once_apply_each_gap_once(engine, clock, mark, make_worker):
    import threading

    workers = [make_worker(), make_worker()]
    fleet = Fleet(engine, clock, 200)
    mark.write()
    fleet.beat()
    clock.advance(seconds=5)
    workers[0].step()
    clock.advance(minutes=10)
    mark.write()
    start = threading.Barrier(2)
    results, errors = [], []

    def run(worker):
        start.wait()
        try:
            results.append(worker.evaluate())
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(len(result.gaps) for result in results) in ([0, 2], [1, 1])
    assert sum(moved for result in results for _, moved in result.gaps) == 200
    with engine.connect() as conn:
        assert set(conn.execute(select(services.c.deadline)).scalars()) == {(clock() + WINDOW).timestamp()}
    assert paged(engine) == {}
