"""notifications.maybe_sent: an earlier attempt of this notification may have reached
the provider (a worker died mid-send and its claim was taken over). Kept for every
later attempt, so a re-send that fails can still look for the earlier one next time.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("maybe_sent", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("maybe_sent")
