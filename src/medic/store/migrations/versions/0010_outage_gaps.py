"""outage_gaps: Medic's own outages (no web process up, the database unwritable, no
worker cycle), so services due inside one get a fresh window (docs/alerting.md).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outage_gaps",
        sa.Column("gap_id", Id, primary_key=True),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("ended_at", Time, nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("detected_at", Time, nullable=False),
        sa.Column("applied_at", Time),
    )
    op.create_index("uq_outage_gaps_started_at", "outage_gaps", ["started_at"], unique=True)
    op.create_index("ix_outage_gaps_ended_at", "outage_gaps", ["ended_at"])


def downgrade() -> None:
    op.drop_table("outage_gaps")
