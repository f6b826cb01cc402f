"""Initial schema: services, heartbeat_events, alerts, the notification outbox, worker state.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("service_id", Id, primary_key=True),
        sa.Column("heartbeat_name", sa.String(255), nullable=False),
        sa.Column("service_name", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("alert_interval", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("team", sa.String(255), server_default="site-reliability", nullable=False),
        sa.Column("priority", sa.String(2), server_default="p3", nullable=False),
        sa.Column("muted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("down", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("runbook", sa.String(2048)),
        sa.Column("grace_period_seconds", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_duration_seconds", sa.Integer()),
        sa.Column("date_added", Time, nullable=False),
        sa.Column("date_modified", Time, nullable=False),
        sa.Column("date_muted", Time),
        sa.Column("last_heartbeat_at", Time),
        sa.Column("last_status", sa.String(16)),
        sa.Column("deadline", sa.Float(), nullable=False),
    )
    op.create_index(
        "uq_services_heartbeat_name_lower", "services", [sa.text("lower(heartbeat_name)")], unique=True
    )
    op.create_index("ix_services_service_name", "services", ["service_name"])

    op.create_table(
        "heartbeat_events",
        sa.Column("heartbeat_id", Id, primary_key=True),
        sa.Column(
            "service_id",
            Id,
            sa.ForeignKey("services.service_id", ondelete="CASCADE", name="fk_heartbeat_events_service_id_services"),
            nullable=False,
        ),
        sa.Column("time", Time, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_heartbeat_events_service_id_time", "heartbeat_events", ["service_id", "time"])
    op.create_index("ix_heartbeat_events_time", "heartbeat_events", ["time"])

    op.create_table(
        "alerts",
        sa.Column("alert_id", Id, primary_key=True),
        sa.Column(
            "service_id",
            Id,
            sa.ForeignKey("services.service_id", ondelete="CASCADE", name="fk_alerts_service_id_services"),
            nullable=False,
        ),
        sa.Column("alert_name", sa.String(512), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("external_reference_id", sa.String(255), nullable=False),
        sa.Column("open_reason", sa.String(32), nullable=False),
        sa.Column("close_reason", sa.String(32)),
        sa.Column("created_date", Time, nullable=False),
        sa.Column("closed_date", Time),
        sa.Column("last_reminded_at", Time),
    )
    op.create_index(
        "uq_alerts_service_id_active",
        "alerts",
        ["service_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_index("ix_alerts_created_date", "alerts", ["created_date"])

    op.create_table(
        "notifications",
        sa.Column("notification_id", Id, primary_key=True),
        sa.Column(
            "alert_id",
            Id,
            sa.ForeignKey("alerts.alert_id", ondelete="CASCADE", name="fk_notifications_alert_id_alerts"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", Time, nullable=False),
        sa.Column("claimed_until", Time),
        sa.Column("last_error", sa.Text()),
        sa.Column("provider_ref", sa.String(255)),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("finished_at", Time),
    )
    op.create_index(
        "ix_notifications_state_next_attempt_at", "notifications", ["state", "next_attempt_at"]
    )
    op.create_index("ix_notifications_alert_id_channel", "notifications", ["alert_id", "channel"])

    op.create_table(
        "worker_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255)),
        sa.Column("updated_at", Time, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_state")
    op.drop_table("notifications")
    op.drop_table("alerts")
    op.drop_table("heartbeat_events")
    op.drop_table("services")
