"""Batch job runs: one row per run reported through the /v2 job signals.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("job_run_id", Id, primary_key=True),
        sa.Column(
            "service_id",
            Id,
            sa.ForeignKey("services.service_id", ondelete="CASCADE", name="fk_job_runs_service_id_services"),
            nullable=False,
        ),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", Time),
        sa.Column("finished_at", Time),
        sa.Column("duration_seconds", sa.Float()),
        sa.Column("message", sa.Text()),
    )
    op.create_index("uq_job_runs_service_id_run_id", "job_runs", ["service_id", "run_id"], unique=True)
    op.create_index("ix_job_runs_service_id_finished_at", "job_runs", ["service_id", "finished_at"])
    op.create_index(
        "ix_job_runs_open_service_id_started_at",
        "job_runs",
        ["service_id", "started_at"],
        sqlite_where=sa.text("state = 'running'"),
        postgresql_where=sa.text("state = 'running'"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
