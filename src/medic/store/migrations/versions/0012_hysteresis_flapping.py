"""Hysteresis and flapping (docs/alerting.md): services.failures_to_open and
successes_to_close (default 1, the behaviour before this revision), and the
flapping bookkeeping: state_changes (recent open/close times), flapping_since,
flap_quiet_at (indexed) and flap_dedup_key.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("services", sa.Column("failures_to_open", sa.Integer(), nullable=False, server_default=sa.text("1")))
    op.add_column("services", sa.Column("successes_to_close", sa.Integer(), nullable=False, server_default=sa.text("1")))
    op.add_column("services", sa.Column("state_changes", sa.JSON()))
    op.add_column("services", sa.Column("flapping_since", sa.DateTime(timezone=True)))
    op.add_column("services", sa.Column("flap_quiet_at", sa.Float()))
    op.add_column("services", sa.Column("flap_dedup_key", sa.String(255)))
    op.create_index("ix_services_flap_quiet_at", "services", ["flap_quiet_at"])


def downgrade() -> None:
    # Plain DROP COLUMNs (SQLite 3.35+): a batch rebuild of services would drop the
    # table, and with it, through ON DELETE CASCADE, every alert and heartbeat.
    op.drop_index("ix_services_flap_quiet_at", table_name="services")
    for name in ("flap_dedup_key", "flap_quiet_at", "flapping_since", "state_changes", "successes_to_close",
                 "failures_to_open"):
        op.drop_column("services", name)
