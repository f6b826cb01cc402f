"""Cron schedules and slot history (docs/schedules.md).

services gains the schedule (``cron`` set: a cron service; null: an interval one),
its start margin and minimum runtime, the newest success (a cron deadline's input),
and the worker's slot cursor: the oldest slot not yet given an outcome and the Unix
time it closes (indexed: the worker reads only the services whose slot closed).
service_slots holds one row per ended slot per service.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)

COLUMNS = (
    ("cron", sa.String(255)),
    ("timezone", sa.String(64)),
    ("start_margin_seconds", sa.Integer()),
    ("min_runtime_seconds", sa.Integer()),
    ("last_success_at", Time),
    ("next_slot_at", Time),
    ("slot_check_at", sa.Float()),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("services", sa.Column(name, type_))
    op.create_index("ix_services_slot_check_at", "services", ["slot_check_at"])
    op.create_table(
        "service_slots",
        sa.Column(
            "service_id",
            Id,
            sa.ForeignKey("services.service_id", ondelete="CASCADE", name="fk_service_slots_service_id_services"),
            nullable=False,
        ),
        sa.Column("slot_at", Time, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("signal_at", Time),
        sa.Column("recorded_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("service_id", "slot_at", name="pk_service_slots"),
    )
    op.create_index("ix_service_slots_slot_at", "service_slots", ["slot_at"])


def downgrade() -> None:
    op.drop_table("service_slots")
    op.drop_index("ix_services_slot_check_at", table_name="services")
    for name, _ in reversed(COLUMNS):
        op.drop_column("services", name)
