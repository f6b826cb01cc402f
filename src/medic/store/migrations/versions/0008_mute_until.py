"""services.muted_until: when a mute lifts itself. Set on every mute (an explicit end,
a duration, or AUTO_UNMUTE_HOURS after the mute); null on services muted before this
revision, which keep lifting AUTO_UNMUTE_HOURS after date_muted.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("services", sa.Column("muted_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of services would drop the
    # table, and with it, through ON DELETE CASCADE, every alert and heartbeat.
    op.drop_column("services", "muted_until")
