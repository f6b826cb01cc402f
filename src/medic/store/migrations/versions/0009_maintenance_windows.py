"""Maintenance windows (docs/maintenance.md): ``maintenance_windows``, one-off or
recurring, scoped to services, a team or labels. Services get ``suppressed_until`` and
``maintenance_id`` (held by a window until then, so the worker skips them); slots get
``maintenance_id`` (the window they fell in).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("window_id", Id, primary_key=True),
        sa.Column("reason", sa.String(1024), nullable=False),
        sa.Column("service_ids", sa.JSON),
        sa.Column("team", sa.String(255)),
        sa.Column("labels", sa.JSON),
        sa.Column("starts_at", Time),
        sa.Column("ends_at", Time),
        sa.Column("cron", sa.String(255)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("duration_minutes", sa.Integer),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("ended_at", Time),
    )
    op.add_column("services", sa.Column("suppressed_until", Time))
    op.add_column("services", sa.Column("maintenance_id", sa.BigInteger))
    op.add_column("service_slots", sa.Column("maintenance_id", sa.BigInteger))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of services would drop the
    # table, and with it, through ON DELETE CASCADE, every alert and heartbeat.
    op.execute("ALTER TABLE service_slots DROP COLUMN maintenance_id")
    op.execute("ALTER TABLE services DROP COLUMN maintenance_id")
    op.execute("ALTER TABLE services DROP COLUMN suppressed_until")
    op.drop_table("maintenance_windows")
