"""Worker and outbox metrics move as an alerting scenario runs."""

from __future__ import annotations

from medic.metrics import process_metrics
from tests.fakes.providers import Response


def sample(name: str, **labels: str) -> float:
    return process_metrics().registry.get_sample_value(name, labels) or 0.0


def scraped(api, prefix: str) -> float:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(prefix + " ") or line.startswith(prefix + "{"):
            return float(line.split()[-1])
    raise AssertionError(f"{prefix} not in /metrics")


def test_delivery_and_state_metrics_follow_a_scenario(medic, worker, clock, pagerduty, api):
    sent = sample("medic_notifications_total", channel="pagerduty", outcome="sent")
    retried = sample("medic_notifications_total", channel="pagerduty", outcome="retried")
    failed = sample("medic_notifications_total", channel="slack", outcome="failed")
    cycles = sample("medic_worker_cycle_duration_seconds_count")

    pagerduty.queue(Response(500, {"status": "error"}))
    medic.register(alert_interval=1)
    clock.advance(minutes=1)
    worker.run_once()
    assert sample("medic_notifications_total", channel="pagerduty", outcome="retried") == retried + 1
    assert scraped(api, 'medic_outbox_pending{channel="pagerduty"}') == 1
    assert scraped(api, "medic_outbox_oldest_pending_age_seconds") == 0  # queued at this very instant
    assert scraped(api, 'medic_services{state="down"}') == 1
    assert scraped(api, "medic_alerts_active") == 1
    assert scraped(api, "medic_worker_last_cycle_timestamp_seconds") == clock().timestamp()

    clock.advance(seconds=30)
    assert scraped(api, "medic_outbox_oldest_pending_age_seconds") == 30
    worker.deliver()
    assert sample("medic_notifications_total", channel="pagerduty", outcome="sent") == sent + 1
    assert sample("medic_notifications_total", channel="slack", outcome="failed") == failed
    assert sample("medic_worker_cycle_duration_seconds_count") == cycles + 1
    assert scraped(api, 'medic_outbox_pending{channel="pagerduty"}') == 0
