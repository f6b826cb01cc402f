"""Configuration fails fast and names the variable."""

from __future__ import annotations

import pytest

from medic.config import ConfigError, load_settings


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
