"""Several workers at once never send a transition twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta


def run_together(workers, method: str, rounds: int = 3) -> None:
    barrier = threading.Barrier(len(workers), timeout=60)  # a crashed peer fails the test, never hangs it
    errors = []

    def go(worker):
        try:
            for _ in range(rounds):
                barrier.wait()
                getattr(worker, method)()
        except Exception as exc:  # surfaced below, so a crash fails the test
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def test_two_workers_deliver_every_transition_exactly_once(medic, make_worker, clock, pagerduty, slack, webhook):
    names = [f"svc-{i:02d}" for i in range(40)]
    for name in names:
        medic.register(name, alert_interval=1)
        medic.beat(name)
    clock.advance(minutes=2)
    workers = [make_worker(), make_worker()]
    run_together(workers, "run_once")

    for name in names:
        medic.beat(name)
    run_together(workers, "run_once")

    actions = Counter((r.json["dedup_key"], r.json["event_action"]) for r in pagerduty.requests)
    keys = {key for key, _ in actions}
    assert len(keys) == len(names)
    assert all(actions[(key, "trigger")] == 1 and actions[(key, "resolve")] == 1 for key in keys)
    assert len(pagerduty.requests) == 2 * len(names)
    assert len(slack.requests) == 2 * len(names)
    assert Counter(r.json["event"] for r in webhook.requests) == {"trigger": len(names), "resolve": len(names)}
    assert all(not a["active"] for a in medic.alerts(limit=1000))
    assert len(medic.alerts(limit=1000)) == len(names)


def test_daily_cleanup_runs_once_per_day_across_workers(settings, engine, clock):
    from medic.store import worker_state as ws
    from medic.worker.loop import CLEANUP_CLAIM

    day = clock().date().isoformat()
    results = []
    lock = threading.Lock()

    def claim():
        with engine.begin() as conn:
            won = ws.claim_daily(conn, CLEANUP_CLAIM, day, clock())
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    with engine.begin() as conn:
        assert ws.claim_daily(conn, CLEANUP_CLAIM, day, clock()) is False
        tomorrow = (clock() + timedelta(days=1)).date().isoformat()
        assert ws.claim_daily(conn, CLEANUP_CLAIM, tomorrow, clock()) is True
