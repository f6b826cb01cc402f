"""The application factory."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from flask import Flask, g, request

from medic import metrics
from medic.auth.authenticator import Authenticator
from medic.clock import Clock, utcnow
from medic.config import Settings
from medic.ingest import Ingest
from medic.logs import RepeatedFailure
from medic.store.engine import make_engine
from medic.store.replica import ReadRouter
from medic.store.errors import DATABASE_UNAVAILABLE, describe_db_error
from medic.store.instrument import instrument
from medic.store.write_health import WriteWatch
from medic.web import access, auth, origins, ratelimit
from medic.web.context import Runtime
from medic.web.envelope import UNAVAILABLE_HEADERS, UNAVAILABLE_MESSAGE, register_error_handlers, reply
from medic.web.fast_heartbeat import FastHeartbeat
from medic.web.http_edge import canonical_paths
from medic.web.mark import WebMark
from medic.web.routes import alerts, health, heartbeats, jobs, maintenance, meta, services
from medic.web.ui import install as install_dashboard
from medic.web.routes import routing as route_config

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from medic.ingest import BeatStore


def create_app(
    settings: Settings,
    *,
    engine: "Engine | None" = None,
    clock: Clock = utcnow,
    fast_heartbeats: bool = True,
    beats: "BeatStore | None" = None,
    web_mark: bool | None = None,
) -> Flask:
    """The Medic app. `fast_heartbeats=False` leaves POST /heartbeat to Flask alone (tests compare the two);
    `beats` replaces the group-commit writer under ingest (the benchmarks' in-memory stand-in).
    `web_mark`: write the web mark in the background (medic.web.mark); by default on the real
    clock only: with an injected clock, the caller marks by hand (``Runtime.web_mark.write()``)."""
    app = Flask("medic", static_folder=None)  # no /static route: Medic serves no files
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.url_map.strict_slashes = False

    engine = engine or make_engine(settings.database_url, prepared_statements=settings.database_prepared_statements)
    process_metrics = metrics.process_metrics()
    instrument(engine, process_metrics.observe_query)
    rt = Runtime(
        settings=settings,
        engine=engine,
        clock=clock,
        metrics=process_metrics,
        store_collector=metrics.StoreCollector(engine, clock),
        ingest=(
            Ingest(beats, metrics=process_metrics)
            if beats is not None
            else Ingest.group_commit(engine, clock, metrics=process_metrics)
        ),
        authenticator=Authenticator(settings, engine, clock),
        write_watch=WriteWatch(engine, clock),
        reads=ReadRouter(
            engine,
            make_engine(settings.database_read_url, prepared_statements=settings.database_prepared_statements)
            if settings.database_read_url else None,
            max_lag_seconds=settings.database_read_max_lag_seconds,
        ),
        web_mark=WebMark(engine, clock, settings.gap_seconds),
        database_failures=RepeatedFailure(logging.getLogger("medic"), "database unavailable", every=10.0),
    )
    app.extensions["medic"] = rt
    if settings.gap_detection and (clock is utcnow if web_mark is None else web_mark):
        rt.web_mark.start()

    register_error_handlers(app)

    def database_unavailable(exc: Exception):
        rt.database_failures.failed(describe_db_error(exc))
        g.database_unavailable = True  # reported by that line, not by an access line
        return reply(None, UNAVAILABLE_MESSAGE, 503, UNAVAILABLE_HEADERS)

    for exc_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(exc_class, database_unavailable)
    for module in (heartbeats, services, alerts, health, meta, jobs, maintenance):
        app.register_blueprint(module.bp)
    install_dashboard(app)  # the web dashboard under /ui/
    app.register_blueprint(route_config.bp)

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()
        g.request_id = access.request_id(request.headers.get("X-Request-ID"))

    @app.after_request
    def _observe(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        access.record(
            process_metrics,
            log_stored_heartbeats=settings.log_stored_heartbeats,
            method=request.method,
            endpoint=request.url_rule.rule if request.url_rule else "unmatched",
            path=request.path,
            status=response.status_code,
            elapsed=time.perf_counter() - g.get("started", time.perf_counter()),
            request_id=g.get("request_id"),
            remote_addr=request.remote_addr,
            principal=g.get("principal"),
            database_unavailable=g.get("database_unavailable", False),
        )
        return response

    origins.install(app, settings)  # before anything else looks at a cross-site write
    # API keys and rate limits: identify the caller, count it, then answer 401/403.
    auth.install_identify(app, rt.authenticator)
    ratelimit.install(app, settings)
    auth.install_enforce(app)
    budget = ratelimit.heartbeat_budget(app, settings)
    if fast_heartbeats and budget is not False:
        app.wsgi_app = FastHeartbeat(app, app.wsgi_app, rt, budget)
    app.wsgi_app = canonical_paths(app.wsgi_app)  # outermost: everything sees the collapsed path
    return app

