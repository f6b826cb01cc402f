"""Settings, read once from the environment.

A bad value stops the process at start with a message naming the variable, so a
typo in a deployment manifest fails loudly instead of paging late.
"""

from __future__ import annotations

import os
import re
from typing import Literal, Mapping
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

DEFAULT_PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://", "redis+sentinel://", "redis+cluster://")


class ConfigError(Exception):
    """Raised with a message that names the offending environment variable."""


class Settings(BaseModel):
    """Every knob Medic has. Field aliases are the environment variable names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    database_url: str = Field("sqlite:///medic.db", alias="MEDIC_DATABASE_URL")
    # false behind PgBouncer in transaction mode: psycopg's server-side prepared
    # statements do not survive a transaction handed to another server connection.
    database_prepared_statements: bool = Field(True, alias="MEDIC_DATABASE_PREPARED_STATEMENTS")
    # Optional PostgreSQL standby for the read-only routes (docs/clustering.md), used
    # while it is at most READ_MAX_LAG seconds behind; the primary otherwise.
    database_read_url: str | None = Field(None, alias="MEDIC_DATABASE_READ_URL")
    database_read_max_lag_seconds: float = Field(5.0, alias="MEDIC_DATABASE_READ_MAX_LAG_SECONDS", gt=0, le=3600)
    host: str = Field("0.0.0.0", alias="HOST")
    port: int = Field(5000, alias="PORT", ge=1, le=65535)
    # `medic serve`: gunicorn processes (about one per CPU core) and how each one serves
    # many requests at once: gevent greenlets (WEB_CONNECTIONS each) or gthread threads
    # (WEB_THREADS each); "auto" picks gevent on PostgreSQL, gthread on SQLite.
    web_concurrency: int = Field(2, alias="WEB_CONCURRENCY", ge=1, le=64)
    web_worker_class: Literal["auto", "gevent", "gthread"] = Field("auto", alias="WEB_WORKER_CLASS")
    web_connections: int = Field(1000, alias="WEB_CONNECTIONS", ge=1, le=100_000)
    web_threads: int = Field(16, alias="WEB_THREADS", ge=1, le=256)
    # `medic run` keeps its threads on one CPU (docs/performance.md): on two or more, they
    # pass Python's GIL from core to core and a heartbeat's CPU grew fivefold by 256 connections.
    run_one_cpu: bool = Field(True, alias="MEDIC_RUN_ONE_CPU")
    # How long a connection may take to send a request's line and headers, the wait on an
    # idle keep-alive connection included. Behind a load balancer, make it longer than the
    # balancer's own idle timeout, or it may reuse a connection just closed.
    web_keepalive_seconds: int = Field(5, alias="WEB_KEEPALIVE_SECONDS", ge=1, le=3600)
    worker_interval_seconds: float = Field(15, alias="WORKER_INTERVAL_SECONDS", gt=0, le=3600)
    auto_unmute_hours: float = Field(24, alias="AUTO_UNMUTE_HOURS", gt=0)
    # Medic's own outages (docs/alerting.md): after a time longer than GAP_SECONDS in
    # which no web process was up, the database could not be written or no worker cycle
    # ran, services due in it get a fresh window instead of paging at once.
    gap_detection: bool = Field(True, alias="MEDIC_GAP_DETECTION")
    gap_seconds: float = Field(60, alias="MEDIC_GAP_SECONDS", ge=15, le=86400)
    heartbeat_retention_days: int = Field(30, alias="HEARTBEAT_RETENTION_DAYS", ge=1)
    reminder_interval_minutes: int = Field(0, alias="REMINDER_INTERVAL_MINUTES", ge=0)
    # A suppressed alert still open this long after its parent's closed pages on its own
    # (docs/alerting.md, "Dependencies").
    dependency_grace_minutes: int = Field(5, alias="MEDIC_DEPENDENCY_GRACE_MINUTES", ge=0, le=10080)
    # Flapping (docs/alerting.md): more than FLAP_CHANGES opens and closes in FLAP_MINUTES
    # pause a service's pages until it has been stable that long; 0 changes: never.
    flap_changes: int = Field(6, alias="MEDIC_FLAP_CHANGES", ge=0, le=1000)
    flap_minutes: int = Field(60, alias="MEDIC_FLAP_MINUTES", ge=1, le=10080)
    pagerduty_routing_key: str | None = Field(None, alias="PAGERDUTY_ROUTING_KEY")
    pagerduty_events_url: str = Field(DEFAULT_PAGERDUTY_EVENTS_URL, alias="PAGERDUTY_EVENTS_URL")
    slack_api_token: str | None = Field(None, alias="SLACK_API_TOKEN")
    slack_channel_id: str | None = Field(None, alias="SLACK_CHANNEL_ID")
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, alias="SLACK_API_URL")
    webhook_url: str | None = Field(None, alias="MEDIC_WEBHOOK_URL")
    webhook_secret: str | None = Field(None, alias="MEDIC_WEBHOOK_SECRET")
    # Email over SMTP (docs/alerting.md): on when SMTP_HOST, SMTP_FROM and SMTP_TO are set.
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int | None = Field(None, alias="SMTP_PORT", ge=1, le=65535)  # default by SMTP_TLS: 25, 587, 465
    smtp_user: str | None = Field(None, alias="SMTP_USER")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    smtp_from: str | None = Field(None, alias="SMTP_FROM")
    smtp_to: str = Field("", alias="SMTP_TO")  # comma-separated addresses
    smtp_tls: Literal["none", "starttls", "tls"] = Field("starttls", alias="SMTP_TLS")
    # One or more Apprise URLs (spaces or commas between them); they hold tokens.
    apprise_url: SecretStr | None = Field(None, alias="APPRISE_URL")
    base_url: str | None = Field(None, alias="MEDIC_BASE_URL")
    # Browser origins, besides Medic's own, whose pages may send writes (comma-separated).
    allowed_origins: str = Field("", alias="MEDIC_ALLOWED_ORIGINS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field("INFO", alias="LOG_LEVEL")
    log_format: Literal["json", "text"] = Field("json", alias="LOG_FORMAT")
    # Full tracebacks in log lines, for a developer's terminal; by default a failure is
    # one line naming the exception and where it was raised (src/medic/logs.py).
    log_tracebacks: bool = Field(False, alias="LOG_TRACEBACKS")
    # An access line per stored heartbeat repeats its heartbeat_events row (thousands of
    # lines a second for a large fleet); refused heartbeats and every other request are
    # always logged.
    log_stored_heartbeats: bool = Field(False, alias="LOG_STORED_HEARTBEATS")
    max_body_bytes: int = Field(64 * 1024, alias="MEDIC_MAX_BODY_BYTES", ge=1024)
    notify_timeout_seconds: float = Field(10, alias="NOTIFY_TIMEOUT_SECONDS", gt=0, le=120)
    # Security (see docs/security.md). `medic serve` defaults MEDIC_AUTH to required.
    auth: Literal["required", "disabled"] = Field("disabled", alias="MEDIC_AUTH")
    admin_api_key: SecretStr | None = Field(None, alias="MEDIC_ADMIN_API_KEY")
    # Fernet key(s) encrypting the route targets' secrets (docs/routing.md), comma-separated.
    secret_key: SecretStr | None = Field(None, alias="MEDIC_SECRET_KEY")
    anonymous_heartbeats: bool = Field(False, alias="MEDIC_ANONYMOUS_HEARTBEATS")
    auth_cache_seconds: float = Field(5, alias="MEDIC_AUTH_CACHE_SECONDS", ge=0, le=300)
    redis_url: str | None = Field(None, alias="REDIS_URL")
    rate_limit_enabled: bool = Field(True, alias="MEDIC_RATE_LIMIT_ENABLED")
    rate_limit_heartbeat: str = Field("6000/second", alias="MEDIC_RATE_LIMIT_HEARTBEAT")
    rate_limit_api: str = Field("1200/minute", alias="MEDIC_RATE_LIMIT_API")
    worker_metrics_port: int = Field(9091, alias="WORKER_METRICS_PORT", ge=0, le=65535)
    worker_liveness_file: str = Field("/tmp/medic-worker.alive", alias="WORKER_LIVENESS_FILE")

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _normalise_case(cls, value: object) -> object:
        if isinstance(value, str):
            return value.upper() if value.lower() not in ("json", "text") else value.lower()
        return value

    @field_validator("web_worker_class", "auth", "smtp_tls", mode="before")
    @classmethod
    def _choice(cls, value: object) -> object:
        """Choices are read in any case, spaces around them ignored."""
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        from sqlalchemy.engine import make_url

        from medic.store.engine import normalise_url

        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        try:
            make_url(normalise_url(value))
        except Exception:  # e.g. a port that is not a number; the URL may hold a password
            raise ValueError("is not a valid database URL (check the host, port and escaping)") from None
        return value

    @field_validator("database_read_url")
    @classmethod
    def _read_database(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (a standby of MEDIC_DATABASE_URL)")
        return cls._known_database(value)

    @field_validator("pagerduty_events_url", "slack_api_url", "webhook_url", "base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value:
            from medic.notify.webhook import standard_key

            standard_key(value)  # a "whsec_" secret must be the standard's base64
        return value

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, value: str | None) -> str | None:
        if value:
            from medic.notify.email import parse_sender

            parse_sender(value)
        return value

    @field_validator("smtp_to")
    @classmethod
    def _smtp_to(cls, value: str) -> str:
        from medic.notify.email import parse_addresses

        parse_addresses(value)
        return value

    @field_validator("apprise_url")
    @classmethod
    def _apprise_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            from medic.notify.apprise import check_urls

            check_urls(value.get_secret_value())
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        from medic.core.origin import normalise_origin

        for item in filter(None, (part.strip() for part in value.split(","))):
            if normalise_origin(item) is None:
                raise ValueError(f"{item!r} is not an origin such as https://dashboard.example.com")
        return value

    @field_validator("admin_api_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            from medic.secretbox import parse_keys

            parse_keys(value.get_secret_value())
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(REDIS_SCHEMES):
            raise ValueError("must be a redis://, rediss:// or redis+unix:// URL")
        return value

    @field_validator("rate_limit_heartbeat", "rate_limit_api")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many  # Flask-Limiter's own notation, e.g. "6000/second;100000/hour"

        try:
            parse_many(value)
        except ValueError:
            raise ValueError('must be a rate limit such as "100/minute" or "10/second;500/hour"') from None
        return value

    @property
    def write_origins(self) -> frozenset[str]:
        """Origins allowed to send writes besides the request's own host: the listed
        ones and MEDIC_BASE_URL's."""
        from medic.core.origin import normalise_origin

        items = [part.strip() for part in self.allowed_origins.split(",") if part.strip()]
        if self.base_url:
            items.append(self.base_url.split("/", 3)[0] + "//" + self.base_url.split("/", 3)[2])
        return frozenset(filter(None, map(normalise_origin, items)))

    @property
    def pagerduty_configured(self) -> bool:
        return bool(self.pagerduty_routing_key)

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_api_token and self.slack_channel_id)

    @property
    def webhook_configured(self) -> bool:
        return bool(self.webhook_url)

    @property
    def apprise_configured(self) -> bool:
        return bool(self.apprise_url and self.apprise_url.get_secret_value().strip())

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from and self.smtp_to.strip(", "))


# The original Medic's names of settings Medic renamed: still read, with a warning.
RENAMED = {
    "ALERT_AUTO_UNMUTE_HOURS": "AUTO_UNMUTE_HOURS",
    "METRICS_PORT": "WORKER_METRICS_PORT",
    "MEDIC_LOG_FORMAT": "LOG_FORMAT",
}
# The original's settings that have no counterpart here.
RETIRED = {"MEDIC_TIMEZONE": "Medic stores and answers every time in UTC"}
# Where the database URL comes from, first set wins.
DATABASE_VARIABLES = "MEDIC_DATABASE_URL (or DATABASE_URL, or DB_HOST with DB_PORT, DB_NAME, PG_USER, PG_PASS)"


def _set(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "") != ""  # an empty variable counts as unset, as everywhere here


def database_configured(env: Mapping[str, str]) -> bool:
    """Whether the environment names a database, rather than leaving the SQLite default."""
    return any(_set(env, name) for name in ("MEDIC_DATABASE_URL", "DATABASE_URL", "DB_HOST"))


def config_warnings(env: Mapping[str, str]) -> list[str]:
    """What to tell the operator about the original Medic's setting names in `env`."""
    warnings = []
    for old, new in RENAMED.items():
        if _set(env, old):
            if _set(env, new):
                warnings.append(f"{old} is ignored: {new} is set and wins; remove {old}")
            else:
                warnings.append(f"{old} is deprecated: rename it {new}")
    for old, why in RETIRED.items():
        if _set(env, old):
            warnings.append(f"{old} is ignored: {why}")
    return warnings


def _database_url_from_parts(env: Mapping[str, str]) -> str | None:
    """The original Medic configured PostgreSQL from separate variables."""
    host = env.get("DB_HOST")
    if not host:
        return None
    user = quote(env.get("PG_USER", "postgres"), safe="")
    password = env.get("PG_PASS")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    port = env.get("DB_PORT") or "5432"
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ConfigError(f"invalid configuration: DB_PORT: must be a port number from 1 to 65535 (got {port!r})")
    name = env.get("DB_NAME", "medic")
    return f"postgresql+psycopg://{auth}@{host}:{port}/{name}"


# Settings that hold URLs with secrets in them beyond a password (a webhook's path).
_SECRET_URLS = ("MEDIC_WEBHOOK_URL",)
# The password of `scheme://user:password@host`, up to the last `@`: a password holding
# an unescaped `@` is still one password to the person who set it.
_CONFIGURED_PASSWORD = re.compile(r"://[^/@:]*:(.+)@")


def secret_values(settings: Settings) -> list[str]:
    """The configured secrets as text, for the log to mask wherever a message quotes one
    (medic.logs.MaskSecrets): every secret setting; of a database or Redis URL, only its
    password and that password's parts between `@`s (the rest names where it connects)."""
    found: list[str] = []
    for name, field in Settings.model_fields.items():
        alias = field.alias or name
        value = getattr(settings, name)
        whole = isinstance(value, SecretStr) or alias in _SECRET_URLS
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not value or not isinstance(value, str) or not (whole or _is_secret(alias)):
            continue
        password = _CONFIGURED_PASSWORD.search(value)
        if whole or "://" not in value:
            found.append(value)
        if password:
            found += [password.group(1), *password.group(1).split("@")]
    return found


def _is_secret(name: str) -> bool:
    # Never echo a secret into a log or a terminal, even a malformed one.
    # Database URLs (and the one built from DB_HOST and PG_PASS) may hold a password.
    return name in ("REDIS_URL", "DB_HOST", "APPRISE_URL") or any(word in name for word in ("KEY", "TOKEN", "SECRET", "PASS", "DATABASE_URL", "DATABASE_READ_URL"))


def load_settings(
    env: Mapping[str, str] | None = None, *, defaults: Mapping[str, str] | None = None, **overrides: object
) -> Settings:
    """Build Settings from the environment (or a given mapping) plus overrides.

    `defaults` (variable names) apply where neither the variable nor its original
    name (RENAMED) is set.
    """
    env = os.environ if env is None else env
    aliases = {field.alias for field in Settings.model_fields.values()}
    values: dict[str, object] = {k: v for k, v in env.items() if k in aliases and v != ""}
    source = {name: name for name in values}  # the variable each value came from, for errors
    for old, new in RENAMED.items():
        if new not in values and _set(env, old):
            values[new], source[new] = env[old], old
    if "MEDIC_DATABASE_URL" not in values:
        if _set(env, "DATABASE_URL"):  # the original's Helm chart and migration script
            values["MEDIC_DATABASE_URL"], source["MEDIC_DATABASE_URL"] = env["DATABASE_URL"], "DATABASE_URL"
        elif from_parts := _database_url_from_parts(env):
            values["MEDIC_DATABASE_URL"], source["MEDIC_DATABASE_URL"] = from_parts, "DB_HOST"
    for name, value in (defaults or {}).items():
        values.setdefault(name, value)
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"])
            name = source.get(name, name)
            shown = "<redacted>" if _is_secret(name) else repr(err.get("input"))
            problems.append(f"{name}: {err['msg']} (got {shown})")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    return settings.model_copy(update=overrides) if overrides else settings
