"""Daily partitions of heartbeat_events on PostgreSQL, so cleanup drops a day instead of
deleting its rows one by one (which takes a core for seconds and writes WAL ahead of
every heartbeat commit).

Partitions are found by name, which carries their bounds:
- ``heartbeat_events_pYYYYMMDD``: that UTC day, [00:00, next 00:00).
- ``heartbeat_events_before_YYYYMMDD``: every row older than that day (the table as it
  was before partitioning, attached whole by migration 0004).
- ``heartbeat_events_default``: anything no day partition covers yet. It keeps ingest
  writing when partitions were not created ahead (the worker down for weeks); a past
  day's rows move into that day's partition when it is created.

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


def missing_days(conn: Connection, first: date, last: date) -> list[date]:
    """Days in [first, last] with no partition of their own, the pre-partitioning table
    aside (days it still covers stay with it)."""
    existing = partitions(conn)
    have = {p.name for p in existing}
    covered_until = max((p.end for p in existing if p.start is None and p.end is not None), default=None)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [
        day for day in days
        if day_name(day) not in have and (covered_until is None or midnight(day) >= covered_until)
    ]


def create_day(conn: Connection, day: date, today: date) -> bool:
    """Create one day's partition in the caller's transaction (commit soon: attaching
    copies the foreign key, which locks `services` against heartbeats until then).

    Rows the default partition holds for a past day move into it. For today or later
    such rows mean heartbeats may still be arriving there (a day the partitions did not
    reach in time, or a writer's clock ahead): the day is left to the default partition,
    whose rows cleanup deletes one by one once expired. Returns whether it was created.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    if day not in missing_days(conn, day, day):
        return False  # another worker made it meanwhile
    name, start, end = day_name(day), midnight(day), midnight(day + timedelta(days=1))
    spilled = conn.execute(
        text(f'SELECT EXISTS (SELECT 1 FROM "{DEFAULT}" WHERE time >= :start AND time < :end)'),
        {"start": start, "end": end},
    ).scalar()
    if spilled and day >= today:
        log.warning("%s holds heartbeats of %s, which may still be arriving: no partition for that day", DEFAULT, day)
        return False
    # Built detached, filled from the default partition, then attached: CREATE TABLE ...
    # PARTITION OF would fail outright if the default holds rows of that day.
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
    return True


def ensure_days(conn: Connection, first: date, last: date, today: date) -> list[str]:
    """Create the missing day partitions for [first, last] in one transaction (a new or
    quiet database: the migration, seeding); returns their names."""
    created = [day_name(day) for day in missing_days(conn, first, last) if create_day(conn, day, today)]
    if created:
        log.info("created partitions %s..%s", created[0], created[-1])
    return created


def days_ahead(now: datetime) -> tuple[date, date]:
    """Today and the last day to have a partition ahead of time."""
    today = now.astimezone(timezone.utc).date()
    return today, today + timedelta(days=DAYS_AHEAD)


def drop_expired(conn: Connection, cutoff: datetime) -> tuple[int, list[str]]:
    """Drop every partition wholly older than ``cutoff`` in one statement; returns the
    rows they held and their names.

    DROP takes the parent's ACCESS EXCLUSIVE lock, which every heartbeat queues behind:
    one statement, committed right after by the caller, makes that one pause of a few
    milliseconds rather than one per day. The advisory lock keeps a second cleanup (the
    worker's and a CronJob's) from listing, counting or dropping at the same time.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
    doomed = [p.name for p in partitions(conn) if p.expired(cutoff)]
    if not doomed:
        return 0, []
    # Counted before the parent's lock is taken; nothing writes to days this old.
    count = sum(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in doomed)
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    conn.execute(text("DROP TABLE " + ", ".join(f'"{name}"' for name in doomed)))
    return count, doomed
