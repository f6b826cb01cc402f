"""The key cache: a fleet's keys cost one read per refresh, not one each (bench/production.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from medic.auth import manage
from medic.auth.authenticator import Authenticator, Unauthenticated
from medic.store.tables import api_keys


@pytest.fixture
def key_reads(engine):
    """Statements reading api_keys, as the database receives them."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_):
        if "FROM api_keys" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def last_used(engine, key: str):
    with engine.connect() as conn:
        return conn.execute(select(api_keys.c.last_used_at).where(api_keys.c.public_id == key.split("_")[1])).scalar_one()


def test_stale_keys_are_read_again_together_in_one_query(settings, engine, clock, key_reads):
    auth = Authenticator(settings, engine, clock)
    keys = [manage.create_key(engine, f"team-{n}", "heartbeat", clock()).key for n in range(30)]
    key_reads.clear()
    for key in keys:
        auth.authenticate(key)
    assert len(key_reads) == 30  # each read once, when first seen
    clock.advance(seconds=settings.auth_cache_seconds)
    key_reads.clear()
    for key in keys:
        auth.authenticate(key)
    assert len(key_reads) == 1  # the first stale one brought the other 29 along


def test_a_revocation_still_lands_within_the_cache_time(settings, engine, clock):
    auth = Authenticator(settings, engine, clock)
    kept = manage.create_key(engine, "kept", "heartbeat", clock()).key
    gone = manage.create_key(engine, "gone", "heartbeat", clock()).key
    auth.authenticate(kept)
    auth.authenticate(gone)
    manage.revoke_key(engine, "gone", clock())
    clock.advance(seconds=settings.auth_cache_seconds)
    auth.authenticate(kept)  # refreshes both
    with pytest.raises(Unauthenticated, match="revoked"):
        auth.authenticate(gone)


def test_last_use_is_written_with_the_next_refresh_at_its_own_time(settings, engine, clock):
    auth = Authenticator(settings, engine, clock)
    key = manage.create_key(engine, "used", "heartbeat", clock()).key
    other = manage.create_key(engine, "other", "heartbeat", clock()).key
    used_at = clock()
    auth.authenticate(key)
    assert last_used(engine, key) is None  # noted, not yet written: no write on the request path
    clock.advance(seconds=settings.auth_cache_seconds)
    auth.authenticate(other)  # a refresh writes the uses noted since the last one
    assert last_used(engine, key) == used_at
    clock.advance(seconds=30)
    auth.authenticate(key)
    clock.advance(seconds=settings.auth_cache_seconds)
    auth.authenticate(other)
    assert last_used(engine, key) == used_at  # within the minute: not written again
    clock.advance(minutes=1)
    auth.authenticate(key)
    clock.advance(seconds=settings.auth_cache_seconds)
    auth.authenticate(other)
    assert last_used(engine, key) == used_at + timedelta(seconds=30 + 2 * settings.auth_cache_seconds) + timedelta(minutes=1)
