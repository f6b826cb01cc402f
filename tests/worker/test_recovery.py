"""A provider back from an outage gets the whole backlog at once, in order per alert."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from medic.store.tables import notifications
from tests.fakes.providers import Response


def pagerduty_states(engine) -> list[str]:
    with engine.begin() as conn:
        return list(conn.execute(select(notifications.c.state).where(notifications.c.channel == "pagerduty")).scalars())


def test_backlog_goes_out_within_seconds_of_recovery(medic, worker, clock, engine, pagerduty):
    names = [f"outage-{i:02d}" for i in range(50)]
    for name in names:
        medic.register(name, alert_interval=1)
    clock.advance(minutes=2)
    healthy = pagerduty.set_default(Response(500, {"status": "error"}))
    worker.evaluate()
    for second in range(240):  # four minutes of PagerDuty answering 500
        if second == 60:
            for name in names:  # the services recover meanwhile: resolves queue behind triggers
                medic.beat(name)
            worker.evaluate()
        clock.advance(seconds=1)
        worker.deliver()
    assert pagerduty_states(engine).count("delivered") == 0
    failed_requests = len(pagerduty.requests)

    pagerduty.set_default(healthy)
    for _ in range(10):  # the whole backlog within 10 s of the provider's recovery
        clock.advance(seconds=1)
        worker.deliver()
        if set(pagerduty_states(engine)) == {"delivered"}:
            break
    assert pagerduty_states(engine) == ["delivered"] * 100

    # Probes during the outage were bounded (each row backs off, plus one probe per 5 s).
    assert failed_requests < 50 * 8 + 240 / 5 + 10
    accepted = [r.json for r in pagerduty.requests[failed_requests:]]
    order = defaultdict(list)
    for event in accepted:
        order[event["dedup_key"]].append(event["event_action"])
    assert len(order) == 50
    assert all(actions == ["trigger", "resolve"] for actions in order.values())
