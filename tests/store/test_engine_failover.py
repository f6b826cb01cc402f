"""Following a PostgreSQL primary that moves: multi-host URLs, and pooled connections
to a server that turned read-only are dropped rather than reused."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import InternalError

from medic.config import ConfigError, load_settings
from medic.store.engine import make_engine, normalise_url


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://postgres@127.0.0.1:54321,127.0.0.1:54322,127.0.0.1:54323/medic?target_session_attrs=read-write",
         "postgresql+psycopg://postgres@/medic?host=127.0.0.1:54321&host=127.0.0.1:54322&host=127.0.0.1:54323"
         "&target_session_attrs=read-write"),
        ("postgres://u:p%40ss@a,b/db", "postgresql+psycopg://u:p%40ss@/db?host=a&host=b"),
        ("postgresql+psycopg://a:1,b:2/db", "postgresql+psycopg:///db?host=a:1&host=b:2"),
        ("postgresql://u@h:5432/db?sslmode=require", "postgresql+psycopg://u@h:5432/db?sslmode=require"),
        ("sqlite:///medic.db", "sqlite:///medic.db"),
    ],
)
def test_urls_are_normalised_for_psycopg(url, expected):
    assert normalise_url(url) == expected


def test_a_multi_host_url_is_a_valid_setting(tmp_path):
    url = "postgresql://postgres@127.0.0.1:54321,127.0.0.1:54322/medic?target_session_attrs=read-write"
    assert load_settings({"MEDIC_DATABASE_URL": url}).database_url == url
    with pytest.raises(ConfigError):
        load_settings({"MEDIC_DATABASE_URL": "postgresql://u@a:x,b:2/db"})


def test_prepared_statements_can_be_turned_off_for_pgbouncer(backend, engine):
    if backend != "postgresql":
        pytest.skip("PostgreSQL connection setting")
    off = make_engine(engine.url.render_as_string(hide_password=False), prepared_statements=False)
    try:
        with off.connect() as conn:
            assert conn.connection.dbapi_connection.prepare_threshold is None
    finally:
        off.dispose()
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection.prepare_threshold == 5


def test_a_silent_server_is_given_up_on(backend, engine):
    """TCP keepalives and a user timeout bound how long a connection to a partitioned
    primary can hang (the cluster test's partition scenario shows the whole path)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL connection setting")
    url = engine.url.render_as_string(hide_password=False)
    for query, expected in (("", "10000"), ("?tcp_user_timeout=2500", "2500")):
        medic = make_engine(url + query)
        try:
            with medic.connect() as conn:
                dsn = conn.connection.dbapi_connection.info.dsn
                assert f"tcp_user_timeout={expected}" in dsn and "keepalives_idle=10" in dsn
        finally:
            medic.dispose()


def test_connections_to_a_server_turned_read_only_are_not_reused(backend, engine):
    """What a switchover does to a pooled connection: the demoted primary still answers
    SELECT 1 (so pool_pre_ping keeps it), but every write fails. After the first such
    failure the pool must connect again (to the new primary, with a multi-host URL)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's read-only mode")
    name = engine.url.database
    medic = make_engine(engine.url.render_as_string(hide_password=False), pool_size=2)
    try:
        with medic.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS failover_probe (n int)"))
        with engine.connect() as admin:
            admin.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
            admin.commit()
        medic.dispose()
        with medic.connect() as conn:  # the pool now holds a read-only session
            conn.execute(text("SELECT 1"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.execute(text("SET default_transaction_read_only = off"))
            admin.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        # The server is writable again for new sessions; the pooled one is still read-only.
        with pytest.raises(InternalError):
            with medic.begin() as conn:
                conn.execute(text("INSERT INTO failover_probe VALUES (1)"))
        with medic.begin() as conn:
            conn.execute(text("INSERT INTO failover_probe VALUES (2)"))
        with medic.connect() as conn:
            assert conn.execute(text("SELECT n FROM failover_probe")).scalars().all() == [2]
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.execute(text("SET default_transaction_read_only = off"))
            admin.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
            admin.execute(text("DROP TABLE IF EXISTS failover_probe"))
        medic.dispose()
