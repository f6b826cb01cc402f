"""Routes: which targets a service's alerts go to (docs/routing.md).

``routes`` match services by team, priority and labels; ``route_targets`` are the
PagerDuty keys, Slack channels, webhooks, email lists and Apprise URLs they send to
(secrets encrypted or named by environment variable, never in clear). Targets are
never changed in place: editing a route retires its targets and adds new ones, so an
outbox row's ``target_id`` always names what its trigger went to. Services get
``labels``; alerts get ``escalated_at``.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "routes",
        sa.Column("route_id", Id, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("match_team", sa.String(255)),
        sa.Column("match_priority", sa.String(2)),
        sa.Column("match_labels", sa.JSON),
        sa.Column("escalate_after_minutes", sa.Integer),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("deleted_at", Time),
    )
    op.create_index(
        "uq_routes_name_live", "routes", ["name"], unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"), postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "route_targets",
        sa.Column("target_id", Id, primary_key=True),
        sa.Column("route_id", Id, sa.ForeignKey("routes.route_id", name="fk_route_targets_route_id_routes"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("secret", sa.Text),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("retired_at", Time),
    )
    op.create_index("ix_route_targets_route_id", "route_targets", ["route_id"])
    op.add_column("notifications", sa.Column("target_id", sa.BigInteger))
    op.create_index("ix_notifications_target_id", "notifications", ["target_id"])
    op.add_column("services", sa.Column("labels", sa.JSON))
    op.add_column("alerts", sa.Column("escalated_at", Time))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of services would drop and
    # recreate the table, and its ON DELETE CASCADE children with it.
    op.execute("ALTER TABLE alerts DROP COLUMN escalated_at")
    op.execute("ALTER TABLE services DROP COLUMN labels")
    op.drop_index("ix_notifications_target_id", "notifications")
    op.execute("ALTER TABLE notifications DROP COLUMN target_id")
    op.drop_table("route_targets")
    op.drop_table("routes")
