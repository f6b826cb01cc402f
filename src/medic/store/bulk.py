"""Many-row INSERTs in one statement of constant text.

On PostgreSQL the rows travel as one JSON document expanded by ``json_to_recordset``:
one round trip and one parse (psycopg prepares the statement once per connection)
however many rows, where an executemany sends a statement per row and a multi-row
VALUES list is new text for every batch size. (Arrays through ``unnest`` would do the
same, but psycopg escapes text arrays element by element in Python: slow for JSON
payloads.) Elsewhere (SQLite, in-process) the plain executemany is already cheap.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Column, Connection, Table, insert, text


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a bulk insert")


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], returning: Column | None = None) -> list:
    """Insert ``rows`` (dicts with the same keys); returns ``returning`` values in row order."""
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        statement = insert(table)
        if returning is None:
            conn.execute(statement, list(rows))
            return []
        return list(conn.execute(statement.returning(returning, sort_by_parameter_order=True), list(rows)).scalars())
    names = list(rows[0])
    column_list = ", ".join(f'"{name}"' for name in names)
    definitions = ", ".join(f'"{name}" {table.c[name].type.compile(dialect=conn.dialect)}' for name in names)
    document = json.dumps([{**row, "ord_": i} for i, row in enumerate(rows)], default=_json_default)
    sql = (
        f'INSERT INTO "{table.name}" ({column_list}) SELECT {column_list} '
        f"FROM json_to_recordset(CAST(:rows AS json)) AS b({definitions}, ord_ bigint) ORDER BY ord_"
    )
    if returning is None:
        conn.execute(text(sql), {"rows": document})
        return []
    # Identity values are drawn in ORDER BY order, so sorted they line up with the rows
    # (the same assumption SQLAlchemy's insertmanyvalues makes on PostgreSQL).
    result = conn.execute(text(f'{sql} RETURNING "{returning.name}"'), {"rows": document}).scalars().all()
    return sorted(result)
