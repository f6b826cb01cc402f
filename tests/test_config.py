"""Configuration fails fast and names the variable."""

from __future__ import annotations

import pytest

from medic.config import ConfigError, config_warnings, database_configured, load_settings
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


def test_database_url_is_read_after_medic_database_url():
    assert load_settings({"DATABASE_URL": "postgresql://u@db/medic"}).database_url == "postgresql://u@db/medic"
    both = {"MEDIC_DATABASE_URL": "sqlite:////tmp/a.db", "DATABASE_URL": "sqlite:////tmp/b.db"}
    assert load_settings(both).database_url == "sqlite:////tmp/a.db"
    # A whole URL is more specific than the DB_* parts.
    assert load_settings({"DATABASE_URL": "sqlite:////tmp/b.db", "DB_HOST": "db"}).database_url == "sqlite:////tmp/b.db"


def test_database_configured_means_a_variable_names_one():
    assert not database_configured({})
    assert not database_configured({"MEDIC_DATABASE_URL": "", "DATABASE_URL": ""})
    for name in ("MEDIC_DATABASE_URL", "DATABASE_URL", "DB_HOST"):
        assert database_configured({name: "sqlite:///x.db" if "URL" in name else "db"})


@pytest.mark.parametrize(
    "old,new,value,field,expected",
    [
        ("ALERT_AUTO_UNMUTE_HOURS", "AUTO_UNMUTE_HOURS", "12", "auto_unmute_hours", 12),
        ("METRICS_PORT", "WORKER_METRICS_PORT", "9200", "worker_metrics_port", 9200),
        ("MEDIC_LOG_FORMAT", "LOG_FORMAT", "TEXT", "log_format", "text"),
    ],
)
def test_original_names_are_aliases_and_the_new_name_wins(old, new, value, field, expected):
    assert getattr(load_settings({old: value}), field) == expected
    assert config_warnings({old: value}) == [f"{old} is deprecated: rename it {new}"]
    default = getattr(load_settings({}), field)
    both = {old: value, new: str(default)}
    assert getattr(load_settings(both), field) == default
    assert config_warnings(both) == [f"{old} is ignored: {new} is set and wins; remove {old}"]


def test_an_original_name_beats_a_command_default():
    # `medic run` defaults LOG_FORMAT to text; a deployment's MEDIC_LOG_FORMAT=json is not a default.
    assert load_settings({"MEDIC_LOG_FORMAT": "json"}, defaults={"LOG_FORMAT": "text"}).log_format == "json"
    assert load_settings({}, defaults={"LOG_FORMAT": "text"}).log_format == "text"


def test_timezone_is_ignored_with_a_warning():
    [warning] = config_warnings({"MEDIC_TIMEZONE": "America/Chicago"})
    assert "MEDIC_TIMEZONE is ignored" in warning and "UTC" in warning
    assert config_warnings({}) == []


def test_a_bad_original_name_is_named_in_the_error():
    with pytest.raises(ConfigError) as err:
        load_settings({"METRICS_PORT": "ninety"})
    assert "METRICS_PORT" in str(err.value) and "WORKER_METRICS_PORT" not in str(err.value)


@pytest.mark.parametrize("port", ["abc", "0", "70000", "54 32", "-1"])
def test_a_bad_db_port_names_the_variable(port):
    with pytest.raises(ConfigError) as err:
        load_settings({"DB_HOST": "db", "DB_PORT": port})
    assert "DB_PORT" in str(err.value)


def test_a_malformed_database_url_is_named_without_its_password():
    with pytest.raises(ConfigError) as err:
        load_settings({"DATABASE_URL": "postgresql://medic:hunter2@db:port/medic"})
    assert "DATABASE_URL" in str(err.value) and "hunter2" not in str(err.value)


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


def test_flapping_settings_have_defaults_and_bounds():
    settings = load_settings({})
    assert (settings.flap_changes, settings.flap_minutes) == (6, 60)
    settings = load_settings({"MEDIC_FLAP_CHANGES": "0", "MEDIC_FLAP_MINUTES": "15"})
    assert (settings.flap_changes, settings.flap_minutes) == (0, 15)
    for name, value in (("MEDIC_FLAP_CHANGES", "-1"), ("MEDIC_FLAP_MINUTES", "0")):
        with pytest.raises(ConfigError) as err:
            load_settings({name: value})
        assert name in str(err.value)


def test_secret_values_hold_every_secret_setting_and_each_url_password_with_its_parts():
    from medic.config import secret_values

    settings = load_settings({
        "MEDIC_DATABASE_URL": "postgresql://medic:pa@ss-word@db:5432/medic",
        "MEDIC_DATABASE_READ_URL": "postgresql://reader:readpw@replica/medic",
        "SLACK_API_TOKEN": "xoxb-slack-token", "SMTP_PASSWORD": "smtp-pass",
        "MEDIC_WEBHOOK_URL": "https://hooks.example/services/T1/B2/s3cr3t",
    })
    found = set(secret_values(settings))
    assert {"pa@ss-word", "ss-word", "readpw", "xoxb-slack-token", "smtp-pass",
            "https://hooks.example/services/T1/B2/s3cr3t"} <= found
    assert not [value for value in found if "db:5432" in value or "replica" in value]  # where it connects is shown
