"""Table definitions (SQLAlchemy Core). Migrations in ``migrations/`` mirror these."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.types import TypeDecorator

from medic.core.model import OutboxState

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python on every backend.

    SQLite keeps no offset, so values are stored as naive UTC and given back their
    ``timezone.utc`` on the way out; comparisons in SQL then work on both backends.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(DateTime(timezone=dialect.name != "sqlite"))

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


services = Table(
    "services",
    metadata,
    Column("service_id", BigId, primary_key=True),
    Column("heartbeat_name", String(255), nullable=False),
    Column("service_name", String(255), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("alert_interval", Integer, nullable=False),
    Column("threshold", Integer, nullable=False, server_default=text("1")),
    Column("team", String(255), nullable=False, server_default="site-reliability"),
    Column("priority", String(2), nullable=False, server_default="p3"),
    Column("muted", Boolean, nullable=False, server_default=text("false")),
    Column("down", Boolean, nullable=False, server_default=text("false")),
    Column("runbook", String(2048)),
    Column("grace_period_seconds", Integer, nullable=False, server_default=text("0")),
    Column("max_duration_seconds", Integer),
    Column("date_added", UTCDateTime, nullable=False),
    Column("date_modified", UTCDateTime, nullable=False),
    Column("date_muted", UTCDateTime),
    # When the mute lifts itself (core/transitions.py, mute_end); null: not muted,
    # or muted before this column existed (then AUTO_UNMUTE_HOURS after date_muted).
    Column("muted_until", UTCDateTime),
    Column("last_heartbeat_at", UTCDateTime),
    Column("last_status", String(16)),
    # Unix seconds after which the service is unhealthy unless another heartbeat
    # arrives. Kept current on ingest so a worker cycle reads one row per service
    # and never scans heartbeat history. Numeric so SQL can add the interval
    # portably (SQLite has no interval arithmetic).
    Column("deadline", Float, nullable=False),
    # The schedule (docs/schedules.md): a cron expression and its IANA zone make a
    # cron service; null cron is the interval schedule (alert_interval, threshold).
    Column("cron", String(255)),
    Column("timezone", String(64)),
    Column("start_margin_seconds", Integer),
    Column("min_runtime_seconds", Integer),
    # Cron services: the newest success (UP heartbeat or completed run, not a start),
    # and the oldest slot not yet given an outcome with the Unix time it closes.
    Column("last_success_at", UTCDateTime),
    Column("next_slot_at", UTCDateTime),
    Column("slot_check_at", Float),
    Column("labels", JSON),  # {"key": "value"}, matched by routes (docs/routing.md)
    # Held by a maintenance window (docs/maintenance.md): no trigger or reminder before
    # then, so the worker does not look at the service again each cycle until it ends.
    Column("suppressed_until", UTCDateTime),
    Column("maintenance_id", BigInteger),
    # Hysteresis and flapping (docs/alerting.md): failures in a row that open an alert,
    # successes in a row that close it; the Unix times of the recent opens and closes
    # (a few, core/flapping.py); while flapping, since when, when it is quiet enough to
    # report the current state (indexed: the worker reads only those due), and the
    # dedup key the episode's alerts share (one PagerDuty incident).
    Column("failures_to_open", Integer, nullable=False, server_default=text("1")),
    Column("successes_to_close", Integer, nullable=False, server_default=text("1")),
    Column("state_changes", JSON),
    Column("flapping_since", UTCDateTime),
    Column("flap_quiet_at", Float),
    Column("flap_dedup_key", String(255)),
)
Index("uq_services_heartbeat_name_lower", func.lower(services.c.heartbeat_name), unique=True)
Index("ix_services_service_name", services.c.service_name)
Index("ix_services_slot_check_at", services.c.slot_check_at)
Index("ix_services_flap_quiet_at", services.c.flap_quiet_at)

heartbeat_events = Table(
    "heartbeat_events",
    metadata,
    Column("heartbeat_id", BigId, primary_key=True),
    Column(
        "service_id",
        BigId,
        ForeignKey("services.service_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("time", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
)
Index("ix_heartbeat_events_service_id_time", heartbeat_events.c.service_id, heartbeat_events.c.time)
Index("ix_heartbeat_events_time", heartbeat_events.c.time)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", BigId, primary_key=True),
    Column(
        "service_id",
        BigId,
        ForeignKey("services.service_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("alert_name", String(512), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("external_reference_id", String(255), nullable=False),
    Column("open_reason", String(32), nullable=False),
    Column("close_reason", String(32)),
    Column("created_date", UTCDateTime, nullable=False),
    Column("closed_date", UTCDateTime),
    Column("last_reminded_at", UTCDateTime),
    Column("escalated_at", UTCDateTime),
    # Dependencies (core/dependencies.py): opened while a parent's alert was open, so no
    # page; suppressed_by is that alert (kept after release), released_at when it paged.
    Column("suppressed", Boolean, nullable=False, server_default=text("false")),
    Column("suppressed_by", BigInteger),
    Column("released_at", UTCDateTime),
)
# At most one open alert per service, whatever the workers do.
Index(
    "uq_alerts_service_id_active",
    alerts.c.service_id,
    unique=True,
    sqlite_where=alerts.c.active,
    postgresql_where=alerts.c.active,
)
Index("ix_alerts_created_date", alerts.c.created_date)
# The open suppressed alerts, which each cycle checks for a recovered parent: small.
Index(
    "ix_alerts_suppressed_by_open",
    alerts.c.suppressed_by,
    sqlite_where=alerts.c.active & alerts.c.suppressed,
    postgresql_where=alerts.c.active & alerts.c.suppressed,
)

# A service's dependencies (docs/alerting.md, "Dependencies"): service_id depends on
# depends_on_id. Read by parent for the worker, by child for cycle checks and replies.
service_dependencies = Table(
    "service_dependencies",
    metadata,
    Column("service_id", BigId, ForeignKey("services.service_id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", BigId, ForeignKey("services.service_id", ondelete="CASCADE"), primary_key=True),
)
Index("ix_service_dependencies_depends_on_id", service_dependencies.c.depends_on_id)

# Batch job runs reported through /v2/heartbeat/<name>/start|complete|fail.
job_runs = Table(
    "job_runs",
    metadata,
    Column("job_run_id", BigId, primary_key=True),
    Column(
        "service_id",
        BigId,
        ForeignKey("services.service_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("run_id", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", UTCDateTime),  # null: closed without a start signal
    Column("finished_at", UTCDateTime),
    Column("duration_seconds", Float),
    Column("message", Text),
)
Index("uq_job_runs_service_id_run_id", job_runs.c.service_id, job_runs.c.run_id, unique=True)
# A service's newest finished runs (stats, listing) ...
Index("ix_job_runs_service_id_finished_at", job_runs.c.service_id, job_runs.c.finished_at)
# ... and its open runs, which every signal reads: partial, so it stays small.
Index(
    "ix_job_runs_open_service_id_started_at",
    job_runs.c.service_id,
    job_runs.c.started_at,
    sqlite_where=job_runs.c.state == "running",
    postgresql_where=job_runs.c.state == "running",
)

# One outcome per ended slot per service (core/schedule.py SlotOutcome).
service_slots = Table(
    "service_slots",
    metadata,
    Column(
        "service_id",
        BigId,
        ForeignKey("services.service_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("slot_at", UTCDateTime, primary_key=True),
    Column("outcome", String(16), nullable=False),
    Column("signal_at", UTCDateTime),  # the success or failure that decided it
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("maintenance_id", BigInteger),  # the maintenance window the slot fell in, if any
)
Index("ix_service_slots_slot_at", service_slots.c.slot_at)

# The outbox: a notification is a row until its provider accepted it.
notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", BigId, primary_key=True),
    Column("alert_id", BigId, ForeignKey("alerts.alert_id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False, server_default=OutboxState.PENDING.value),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # An earlier attempt may have reached the provider (its claim expired mid-send).
    Column("maybe_sent", Boolean, nullable=False, server_default=text("false")),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime),
    Column("last_error", Text),
    Column("provider_ref", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    # The route target this row goes to (route_targets.target_id); null: the channel
    # configured by environment variables (the default route).
    Column("target_id", BigInteger),
)
Index("ix_notifications_state_next_attempt_at", notifications.c.state, notifications.c.next_attempt_at)
Index("ix_notifications_alert_id_channel", notifications.c.alert_id, notifications.c.channel)
Index("ix_notifications_target_id", notifications.c.target_id)

# Small key/value bookkeeping shared by workers: last completed cycle, last cleanup day.
worker_state = Table(
    "worker_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255)),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Medic's own outages (core/gaps.py): one row per gap, written by the web process or
# worker that saw it end; the worker that sets applied_at gives the fresh windows.
outage_gaps = Table(
    "outage_gaps",
    metadata,
    Column("gap_id", BigId, primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=False),
    Column("cause", String(16), nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("applied_at", UTCDateTime),
)
# Everyone who sees one gap end sees the same start: the row is written once.
Index("uq_outage_gaps_started_at", outage_gaps.c.started_at, unique=True)
Index("ix_outage_gaps_ended_at", outage_gaps.c.ended_at)

# API keys: only a digest of the secret is stored; public_id (visible in the key) is the lookup.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", BigId, primary_key=True),
    Column("public_id", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", String(255), nullable=False),  # space-separated
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
)
Index("uq_api_keys_public_id", api_keys.c.public_id, unique=True)

# Routes (docs/routing.md): which targets a service's alerts go to. Deleted routes and
# replaced targets are kept (deleted_at, retired_at) so an open alert's resolve still
# reaches the targets its trigger went to.
routes = Table(
    "routes",
    metadata,
    Column("route_id", BigId, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("match_team", String(255)),
    Column("match_priority", String(2)),
    Column("match_labels", JSON),
    Column("escalate_after_minutes", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
)
Index(
    "uq_routes_name_live", routes.c.name, unique=True,
    sqlite_where=routes.c.deleted_at.is_(None), postgresql_where=routes.c.deleted_at.is_(None),
)

route_targets = Table(
    "route_targets",
    metadata,
    Column("target_id", BigId, primary_key=True),
    Column("route_id", BigId, ForeignKey("routes.route_id"), nullable=False),
    Column("role", String(16), nullable=False),  # "page" or "escalation"
    Column("position", Integer, nullable=False),
    Column("type", String(32), nullable=False),  # a ChannelName
    Column("config", JSON, nullable=False),  # the type's fields; secrets as {"env": NAME} or "encrypted"
    Column("secret", Text),  # Fernet token of the secret fields given as values
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime),
)
Index("ix_route_targets_route_id", route_targets.c.route_id)

# Maintenance windows (docs/maintenance.md, core/maintenance.py): one-off (starts_at,
# ends_at) or recurring (cron, timezone, duration_minutes); scope: service ids, a team
# or labels. Kept after they end (ended_at: ended early) so slots can name them.
maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("window_id", BigId, primary_key=True),
    Column("reason", String(1024), nullable=False),
    Column("service_ids", JSON),
    Column("team", String(255)),
    Column("labels", JSON),
    Column("starts_at", UTCDateTime),
    Column("ends_at", UTCDateTime),
    Column("cron", String(255)),
    Column("timezone", String(64)),
    Column("duration_minutes", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
)
