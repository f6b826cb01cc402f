"""Configuration fails fast and names the variable."""

from __future__ import annotations

import pytest

from medic.config import ConfigError, load_settings
from medic.web.gevent_worker import WORKER_CLASS as GEVENT_WORKER
from medic.web.server import MedicGunicorn, worker_class


def test_defaults():
    settings = load_settings({})
    assert settings.database_url == "sqlite:///medic.db"
    assert settings.port == 5000
    assert settings.worker_interval_seconds == 15
    assert settings.auto_unmute_hours == 24
    assert settings.heartbeat_retention_days == 30
    assert not settings.pagerduty_configured and not settings.slack_configured


def test_postgres_from_parts():
    settings = load_settings({"DB_HOST": "db", "PG_USER": "medic", "PG_PASS": "p@ss", "DB_NAME": "medic", "DB_PORT": "6543"})
    assert settings.database_url == "postgresql+psycopg://medic:p%40ss@db:6543/medic"


def test_explicit_url_wins_over_parts():
    settings = load_settings({"DB_HOST": "db", "MEDIC_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert settings.database_url == "sqlite:////tmp/x.db"


@pytest.mark.parametrize(
    "name,value",
    [
        ("PORT", "http"),
        ("PORT", "70000"),
        ("WORKER_INTERVAL_SECONDS", "0"),
        ("AUTO_UNMUTE_HOURS", "-1"),
        ("HEARTBEAT_RETENTION_DAYS", "zero"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "chatty"),
        ("MEDIC_DATABASE_URL", "mysql://x"),
        ("PAGERDUTY_EVENTS_URL", "events.pagerduty.com"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({name: value})
    assert name in str(err.value)


def test_case_insensitive_enums():
    settings = load_settings({"LOG_FORMAT": "TEXT", "LOG_LEVEL": "debug"})
    assert settings.log_format == "text" and settings.log_level == "DEBUG"


# `medic serve`'s gunicorn worker class (medic.web.server.worker_class).
POSTGRES = "postgresql+psycopg://medic@db:5432/medic"


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, "gthread"),  # the default database is SQLite
        ({"MEDIC_DATABASE_URL": "sqlite:////tmp/x.db"}, "gthread"),
        ({"MEDIC_DATABASE_URL": POSTGRES}, GEVENT_WORKER),
        ({"MEDIC_DATABASE_URL": "postgres://medic@db/medic"}, GEVENT_WORKER),
        ({"DB_HOST": "db"}, GEVENT_WORKER),  # PostgreSQL from the DB_* variables
        ({"MEDIC_DATABASE_URL": POSTGRES, "WEB_WORKER_CLASS": "auto"}, GEVENT_WORKER),
        ({"MEDIC_DATABASE_URL": POSTGRES, "WEB_WORKER_CLASS": ""}, GEVENT_WORKER),  # empty is unset: auto
        ({"MEDIC_DATABASE_URL": POSTGRES, "WEB_WORKER_CLASS": "gthread"}, "gthread"),
        ({"MEDIC_DATABASE_URL": "sqlite:////tmp/x.db", "WEB_WORKER_CLASS": "gevent"}, GEVENT_WORKER),
        ({"MEDIC_DATABASE_URL": POSTGRES, "WEB_WORKER_CLASS": "GThread"}, "gthread"),  # any case, like LOG_FORMAT
    ],
)
def test_worker_class_is_gevent_on_postgresql_gthread_on_sqlite_unless_set(env, expected):
    assert worker_class(load_settings(env)) == expected


@pytest.mark.parametrize("value", ["sync", "eventlet", "gevent,gthread", "threads"])
def test_unknown_worker_class_names_the_variable(value):
    with pytest.raises(ConfigError) as err:
        load_settings({"MEDIC_DATABASE_URL": POSTGRES, "WEB_WORKER_CLASS": value})
    assert "WEB_WORKER_CLASS" in str(err.value)


def test_serve_defaults_reach_gunicorn():
    settings = load_settings({"MEDIC_DATABASE_URL": POSTGRES})
    assert (settings.web_concurrency, settings.web_worker_class, settings.web_connections) == (2, "auto", 1000)
    cfg = MedicGunicorn(settings).cfg  # configured, not started
    assert cfg.worker_class_str == GEVENT_WORKER
    assert cfg.workers == 2 and cfg.worker_connections == 1000 and cfg.keepalive == 5
    cfg = MedicGunicorn(
        load_settings({"WEB_CONNECTIONS": "50", "WEB_THREADS": "3", "WEB_CONCURRENCY": "1", "WEB_KEEPALIVE_SECONDS": "75"})
    ).cfg
    assert cfg.worker_class_str == "gthread"
    assert (cfg.workers, cfg.threads, cfg.worker_connections, cfg.keepalive) == (1, 3, 50, 75)


@pytest.mark.parametrize(
    "name,value",
    [("WEB_CONNECTIONS", "0"), ("WEB_CONNECTIONS", "many"), ("WEB_CONCURRENCY", "0"), ("WEB_KEEPALIVE_SECONDS", "0")],
)
def test_bad_serve_sizes_name_the_variable(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({name: value})
    assert name in str(err.value)
