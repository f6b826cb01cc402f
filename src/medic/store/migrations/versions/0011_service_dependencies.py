"""Dependencies (docs/alerting.md, "Dependencies"): ``service_dependencies`` holds
which services each service depends on; alerts gain ``suppressed``, ``suppressed_by``
(the parent's alert) and ``released_at`` (when a suppressed alert paged on its own).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "service_dependencies",
        sa.Column("service_id", Id, sa.ForeignKey("services.service_id", ondelete="CASCADE",
                                                  name="fk_service_dependencies_service_id_services"), nullable=False),
        sa.Column("depends_on_id", Id, sa.ForeignKey("services.service_id", ondelete="CASCADE",
                                                     name="fk_service_dependencies_depends_on_id_services"),
                  nullable=False),
        sa.PrimaryKeyConstraint("service_id", "depends_on_id", name="pk_service_dependencies"),
    )
    op.create_index("ix_service_dependencies_depends_on_id", "service_dependencies", ["depends_on_id"])
    op.add_column("alerts", sa.Column("suppressed", sa.Boolean, nullable=False, server_default=sa.text("false")))
    op.add_column("alerts", sa.Column("suppressed_by", sa.BigInteger))
    op.add_column("alerts", sa.Column("released_at", sa.DateTime(timezone=True)))
    op.create_index("ix_alerts_suppressed_by_open", "alerts", ["suppressed_by"],
                    sqlite_where=sa.text("active AND suppressed"), postgresql_where=sa.text("active AND suppressed"))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of alerts would drop and recreate
    # the table, and its ON DELETE CASCADE notifications with it.
    op.drop_index("ix_alerts_suppressed_by_open", "alerts")
    op.execute("ALTER TABLE alerts DROP COLUMN released_at")
    op.execute("ALTER TABLE alerts DROP COLUMN suppressed_by")
    op.execute("ALTER TABLE alerts DROP COLUMN suppressed")
    op.drop_table("service_dependencies")
