"""Prometheus metrics.

Two kinds:
- process metrics (counters/histograms) that each process increments; under
  gunicorn they live in prometheus_client's multiprocess files so a scrape of any
  worker process sees the sum over all of them;
- stored-state gauges (services by state, active alerts, outbox depth, worker and
  cleanup timestamps) read from the database at scrape time by ``StoreCollector``,
  so every replica reports the same truth and nothing drifts in memory.

Nothing is created at import time: ``process_metrics()`` builds them on first use,
after ``medic serve`` has set PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from medic.clock import Clock
from medic.core.health import state_of
from medic.core.model import ServiceState
from medic.notify.base import CHANNEL_NAMES

if TYPE_CHECKING:
    from sqlalchemy import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ProcessMetrics:
    def __init__(self, registry: CollectorRegistry | None):
        self.registry = registry
        self.heartbeats = Counter(
            "medic_heartbeats_total", "Heartbeats received and stored", ["status"], registry=registry
        )
        self.http_duration = Histogram(
            "medic_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.db_duration = Histogram(
            "medic_db_query_duration_seconds",
            "Database statement latency",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.worker_cycle = Histogram(
            "medic_worker_cycle_duration_seconds",
            "Duration of one worker evaluation and delivery cycle",
            buckets=LATENCY_BUCKETS + (30, 60),
            registry=registry,
        )
        self.slot_outcomes = Counter(
            "medic_slot_outcomes_total",
            "Cron slots closed, by team and outcome (on_time, late, missed, failed, too_long, too_fast)",
            ["team", "outcome"],
            registry=registry,
        )
        self.notifications = Counter(
            "medic_notifications_total",
            "Notification delivery attempts by channel and outcome (sent, retried, failed)",
            ["channel", "outcome"],
            registry=registry,
        )
        self.notification_reclaims = Counter(
            "medic_notification_reclaims_total",
            "Notifications sent again after an earlier attempt's claim expired (a worker stopped mid-send)",
            ["channel"],
            registry=registry,
        )
        self.notification_resends_avoided = Counter(
            "medic_notification_resends_avoided_total",
            "Reclaimed notifications found already delivered at the provider, so not sent again",
            ["channel"],
            registry=registry,
        )
        self.cleanup_deleted = Counter(
            "medic_cleanup_deleted_rows_total", "Rows deleted by cleanup", ["table"], registry=registry
        )

    def heartbeat_received(self, status: str) -> None:
        self.heartbeats.labels(status=status).inc()

    def observe_query(self, operation: str, seconds: float) -> None:
        self.db_duration.labels(operation=operation).observe(seconds)


@functools.cache
def process_metrics() -> ProcessMetrics:
    # In multiprocess mode the values live in files, not in a registry.
    return ProcessMetrics(None if multiprocess_enabled() else CollectorRegistry())


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


class StoreCollector(Collector):
    """Gauges describing stored state, read when Prometheus scrapes."""

    def __init__(self, engine: "Engine", clock: Clock):
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        from medic.store import worker_state as ws

        up = GaugeMetricFamily("medic_database_up", "1 when the database answered this scrape")
        try:
            with self.engine.connect() as conn:
                groups = ws.service_counts(conn)
                active_alerts = ws.active_alert_count(conn)
                backlog = ws.outbox_backlog(conn)
                last_cycle = ws.get(conn, ws.LAST_CYCLE)
                last_cleanup = ws.get(conn, ws.LAST_CLEANUP)
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = self.clock()

        by_state = GaugeMetricFamily("medic_services", "Services by state", labels=["state"])
        counts = {state.value: 0 for state in ServiceState}
        for active, muted, down, seen, count in groups:
            placeholder = now if seen else None
            counts[state_of(active=active, muted=muted, down=down, last_heartbeat_at=placeholder).value] += count
        for state, count in counts.items():
            by_state.add_metric([state], count)
        yield by_state

        yield GaugeMetricFamily("medic_alerts_active", "Open alerts", value=active_alerts)

        pending = GaugeMetricFamily("medic_outbox_pending", "Notifications not yet delivered", labels=["channel"])
        # Every channel reports, zero included, so an empty outbox is a value, not an absence.
        depth = dict.fromkeys(CHANNEL_NAMES, 0)
        oldest: datetime | None = None
        for channel, count, created in backlog:
            depth[channel] = count
            oldest = created if oldest is None or created < oldest else oldest
        for channel, count in depth.items():
            pending.add_metric([channel], count)
        yield pending
        age = (now - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "medic_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered notification", value=age
        )
        if last_cycle is not None:
            yield GaugeMetricFamily(
                "medic_worker_last_cycle_timestamp_seconds",
                "Unix time of the last completed worker cycle",
                value=last_cycle.updated_at.timestamp(),
            )
        if last_cleanup is not None:
            yield GaugeMetricFamily(
                "medic_cleanup_last_success_timestamp_seconds",
                "Unix time of the last successful cleanup",
                value=last_cleanup.updated_at.timestamp(),
            )


def _registry(store_collector: StoreCollector | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    if multiprocess_enabled():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(process_metrics().registry))
    if store_collector is not None:
        registry.register(store_collector)
    return registry


def render(store_collector: StoreCollector | None) -> bytes:
    """The /metrics body: process metrics (all processes) plus stored-state gauges."""
    return generate_latest(_registry(store_collector))


def serve_worker_metrics(port: int, host: str = "0.0.0.0"):
    """`medic worker`'s own /metrics: cycle durations, deliveries, cleanup counts.

    Stored-state gauges are left to the web replicas' /metrics so each is
    reported once, not once per process.
    """
    server, thread = start_http_server(port, addr=host, registry=_registry(None))
    return server, thread
