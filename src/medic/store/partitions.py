"""Daily partitions of heartbeat_events on PostgreSQL, so cleanup drops a day instead of
deleting its rows one by one (which takes a core for seconds and writes WAL ahead of
every heartbeat commit).

Partitions are found by name, which carries their bounds:
- ``heartbeat_events_pYYYYMMDD``: that UTC day, [00:00, next 00:00).
- ``heartbeat_events_before_YYYYMMDD``: every row older than that day (the table as it
  was before partitioning, attached whole by migration 0004).
- ``heartbeat_events_default``: anything no day partition covers yet. It keeps ingest
  writing when partitions were not created ahead (the worker down for weeks); creating
  the day's partition later moves those rows into it.

SQLite has no partitions; every function here is PostgreSQL-only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Connection, text

log = logging.getLogger("medic.partitions")

PARENT = "heartbeat_events"
DEFAULT = f"{PARENT}_default"
# Created ahead of time: the worker can stay down this long before rows spill into the default.
DAYS_AHEAD = 14
# DDL on the parent waits behind in-flight statements and queues every heartbeat behind
# itself; give up quickly instead and try again on the next run.
LOCK_TIMEOUT = "2s"
# pg_advisory_xact_lock key: two workers never create the same partition at once.
ADVISORY_KEY = 0x6D656469  # "medi"

_DAY = re.compile(rf"^{PARENT}_p(\d{{8}})$")
_BEFORE = re.compile(rf"^{PARENT}_before_(\d{{8}})$")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime | None  # None: unbounded below
    end: datetime | None  # None: the default partition

    def expired(self, cutoff: datetime) -> bool:
        """Every row it can hold is older than ``cutoff``."""
        return self.end is not None and self.end <= cutoff


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def day_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": PARENT}).scalar()
    return kind == "p"


def partitions(conn: Connection) -> list[Partition]:
    names = conn.execute(
        text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"),
        {"t": PARENT},
    ).scalars()
    found = []
    for name in names:
        if match := _DAY.match(name):
            start = midnight(datetime.strptime(match[1], "%Y%m%d").date())
            found.append(Partition(name, start, start + timedelta(days=1)))
        elif match := _BEFORE.match(name):
            found.append(Partition(name, None, midnight(datetime.strptime(match[1], "%Y%m%d").date())))
        elif name == DEFAULT:
            found.append(Partition(name, None, None))
        else:
            log.warning("partition %s of %s does not follow the naming scheme; left alone", name, PARENT)
    return sorted(found, key=lambda p: (p.end is None, p.end or datetime.max.replace(tzinfo=timezone.utc)))


def ensure_days(conn: Connection, first: date, last: date) -> list[str]:
    """Create the day partitions for [first, last] that are missing; returns their names.

    Rows the default partition holds for such a day move into it in the same
    transaction. Days the pre-partitioning table still covers are left to it.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    existing = partitions(conn)
    have = {p.name for p in existing}
    covered_until = max((p.end for p in existing if p.start is None and p.end is not None), default=None)
    created = []
    day = first
    while day <= last:
        start, end = midnight(day), midnight(day + timedelta(days=1))
        name = day_name(day)
        if name not in have and (covered_until is None or start >= covered_until):
            _create_day(conn, name, start, end)
            created.append(name)
        day += timedelta(days=1)
    if created:
        log.info("created partitions %s..%s", created[0], created[-1])
    return created


def ensure_ahead(conn: Connection, now: datetime) -> list[str]:
    today = now.astimezone(timezone.utc).date()
    return ensure_days(conn, today, today + timedelta(days=DAYS_AHEAD))


def _create_day(conn: Connection, name: str, start: datetime, end: datetime) -> None:
    # Built detached, filled from the default partition, then attached: CREATE TABLE ...
    # PARTITION OF would fail outright if the default already holds rows of that day.
    conn.execute(text(f'CREATE TABLE "{name}" (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    moved = conn.execute(
        text(
            f'WITH moved AS (DELETE FROM "{DEFAULT}" WHERE time >= :start AND time < :end RETURNING *) '
            f'INSERT INTO "{name}" SELECT * FROM moved'
        ),
        {"start": start, "end": end},
    ).rowcount
    # DDL takes no parameters; the bounds are literals of datetimes built here.
    lower, upper = f"'{start.isoformat()}'", f"'{end.isoformat()}'"
    # A CHECK matching the bound lets ATTACH skip scanning the new table.
    conn.execute(text(f'ALTER TABLE "{name}" ADD CONSTRAINT "{name}_bound" CHECK (time >= {lower} AND time < {upper})'))
    conn.execute(text(f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" FOR VALUES FROM ({lower}) TO ({upper})'))
    conn.execute(text(f'ALTER TABLE "{name}" DROP CONSTRAINT "{name}_bound"'))
    if moved:
        log.warning("moved %d heartbeats from %s into %s", moved, DEFAULT, name)


def expired(conn: Connection, cutoff: datetime) -> list[Partition]:
    return [p for p in partitions(conn) if p.expired(cutoff)]


def drop(conn: Connection, doomed: list[Partition]) -> int:
    """Drop these partitions in one statement; returns the rows they held.

    DROP takes the parent's ACCESS EXCLUSIVE lock, which every heartbeat queues behind:
    one statement, committed right after by the caller, makes that one pause of a few
    milliseconds rather than one per day. The rows are counted before the lock is taken.
    """
    if not doomed:
        return 0
    count = sum(conn.execute(text(f'SELECT count(*) FROM "{p.name}"')).scalar_one() for p in doomed)
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    conn.execute(text("DROP TABLE " + ", ".join(f'"{p.name}"' for p in doomed)))
    return count
