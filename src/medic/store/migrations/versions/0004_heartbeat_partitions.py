"""PostgreSQL: heartbeat_events partitioned by day, so cleanup drops whole days.

The existing table is not copied: if it holds rows it is attached whole as the
partition ``heartbeat_events_before_<tomorrow>`` (rows dated later, from a clock ahead,
move to the default partition). Cleanup deletes from it row by row until all of it is
past retention, then drops it. Day partitions start tomorrow; a default partition
catches anything no day partition covers. SQLite: nothing to do.

The primary key becomes (heartbeat_id, time): PostgreSQL requires the partition key in it.

Revision ID: 0004
Revises: 0003
"""

from datetime import datetime, timedelta, timezone

from alembic import op
from sqlalchemy import text

from medic.store import partitions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEQUENCE = "heartbeat_events_heartbeat_id_seq"
FK = "fk_heartbeat_events_service_id_services"
INDEXES = (("ix_heartbeat_events_service_id_time", "(service_id, time)"), ("ix_heartbeat_events_time", "(time)"))


def _replace_table(aside: str, *, partitioned: bool, primary_key: str) -> None:
    """Rename heartbeat_events to ``aside`` and create its replacement, with the old
    table's sequence, foreign key and index names."""
    op.execute("LOCK TABLE heartbeat_events IN ACCESS EXCLUSIVE MODE")
    op.execute(f"ALTER TABLE heartbeat_events RENAME TO {aside}")
    op.execute(
        f"""
        CREATE TABLE heartbeat_events (
            heartbeat_id BIGINT NOT NULL DEFAULT nextval('{SEQUENCE}'),
            service_id BIGINT NOT NULL,
            time TIMESTAMP WITH TIME ZONE NOT NULL,
            status VARCHAR(16) NOT NULL
        ) {"PARTITION BY RANGE (time)" if partitioned else ""}
        """
    )
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY heartbeat_events.heartbeat_id")
    op.execute(
        f"ALTER TABLE heartbeat_events ADD CONSTRAINT {FK} FOREIGN KEY (service_id) "
        "REFERENCES services (service_id) ON DELETE CASCADE"
    )
    for index, columns in INDEXES:
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_old")
        op.execute(f"CREATE INDEX {index} ON heartbeat_events {columns}")
    op.execute(f"ALTER TABLE {aside} RENAME CONSTRAINT pk_heartbeat_events TO pk_heartbeat_events_old")
    op.execute(f"ALTER TABLE heartbeat_events ADD CONSTRAINT pk_heartbeat_events PRIMARY KEY ({primary_key})")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _replace_table("heartbeat_events_unpartitioned", partitioned=True, primary_key="heartbeat_id, time")
    op.execute(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF heartbeat_events DEFAULT")

    today, last = partitions.days_ahead(datetime.now(timezone.utc))
    if bind.execute(text("SELECT EXISTS (SELECT 1 FROM heartbeat_events_unpartitioned)")).scalar():
        bound = today + timedelta(days=1)
        legacy = f"heartbeat_events_before_{bound:%Y%m%d}"
        # Rows dated after today (a writer's clock ahead) go to the default partition,
        # so that one such row cannot stretch the old table's range over future days.
        op.execute(
            f"WITH ahead AS (DELETE FROM heartbeat_events_unpartitioned WHERE time >= '{partitions.midnight(bound).isoformat()}' "
            f"RETURNING *) INSERT INTO {partitions.DEFAULT} SELECT * FROM ahead"
        )
        op.execute("ALTER TABLE heartbeat_events_unpartitioned DROP CONSTRAINT pk_heartbeat_events_old")
        for index, _ in INDEXES:
            op.execute(f"ALTER INDEX {index}_old RENAME TO {legacy}_{index.removeprefix('ix_heartbeat_events_')}")
        op.execute(f"ALTER TABLE heartbeat_events_unpartitioned RENAME TO {legacy}")
        # Scans the table to check the bound and builds the new primary key's index over
        # it; the two secondary indexes are adopted as they are.
        op.execute(
            f"ALTER TABLE heartbeat_events ATTACH PARTITION {legacy} "
            f"FOR VALUES FROM (MINVALUE) TO ('{partitions.midnight(bound).isoformat()}')"
        )
    else:
        op.execute("DROP TABLE heartbeat_events_unpartitioned")
    partitions.ensure_days(bind, today, last, today)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _replace_table("heartbeat_events_partitioned", partitioned=False, primary_key="heartbeat_id")
    op.execute("INSERT INTO heartbeat_events SELECT * FROM heartbeat_events_partitioned")
    op.execute("DROP TABLE heartbeat_events_partitioned")  # and every partition with it
