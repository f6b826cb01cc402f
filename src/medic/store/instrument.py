"""Times every statement, for medic_db_query_duration_seconds."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import Engine, event


def instrument(engine: Engine, observe: Callable[[str, float], None]) -> None:
    """Attach the statement timer once per engine (tests build many apps on one)."""
    if getattr(engine, "_medic_instrumented", False):
        return
    engine._medic_instrumented = True
    engine._medic_observe = observe
    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("medic_query_start", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn, cursor, statement, parameters, context, executemany):
        started = conn.info["medic_query_start"].pop()
        operation = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else "other"
        observe(operation, time.perf_counter() - started)

    @event.listens_for(engine, "handle_error")
    def _failed(context):
        conn = context.connection
        if conn is not None and conn.info.get("medic_query_start"):
            conn.info["medic_query_start"].pop()


@contextmanager
def timed(engine: Engine, operation: str) -> Iterator[None]:
    """Time a statement run on the driver connection, where SQLAlchemy's events do not see it."""
    started = time.perf_counter()
    yield
    observe = getattr(engine, "_medic_observe", None)
    if observe is not None:
        observe(operation, time.perf_counter() - started)
