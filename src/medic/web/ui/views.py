"""The dashboard's pages (docs/dashboard.md)."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from urllib.parse import urlencode

from markupsafe import Markup, escape
from pydantic import ValidationError
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError as CSRFValidationError

from medic.auth import scopes
from medic.auth.manage import KeyManagementError, create_key, list_keys, revoke_key, status as key_status
from medic.core.dependencies import DependencyError
from medic.core.health import window_fits_retention
from medic.core.jobs import RunState, duration_stats
from medic.core.maintenance import window_at
from medic.core.model import REASON_TEXT, OpenReason, Priority, ServiceState
from medic.core.transitions import mute_end, parse_mute_for
from medic.store import dashboard as q
from medic.store import dependencies as dependency_store
from medic.store import jobs as job_store
from medic.store import maintenance as maintenance_store
from medic.store import services as service_store
from medic.store.errors import DATABASE_UNAVAILABLE, describe_db_error
from medic.web.context import runtime
from medic.web.envelope import ApiError
from medic.core.route_text import describe_target
from medic.core.schedule import SlotOutcome
from medic.core.windows import align_down
from medic.store import windows as window_store
from medic.store import routes as route_store
from medic.web.api import validation_error
from medic.web.route_schemas import RouteCreate
from medic.web.routes.routing import add_route, remove_route, who_gets_paged
from medic.web.ui import forms, session as auth
from medic.web.ui.forms import BadInput

log = logging.getLogger("medic.ui")

bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static")

STRIP_BUCKETS = 24
SLOTS_SHOWN = 48  # the service page's strip of recent slots (cron) or windows (interval)
# Slot and window outcomes in words (docs/schedules.md), for the strip's hover and screen readers.
OUTCOME_TEXT = {
    SlotOutcome.ON_TIME: "on time", SlotOutcome.LATE: "late", SlotOutcome.MISSED: "missed",
    SlotOutcome.FAILED: "failed", SlotOutcome.TOO_LONG: "ran too long", SlotOutcome.TOO_FAST: "finished too fast",
    SlotOutcome.UNKNOWN: "unknown",
}
POLL_SECONDS = 5  # live refresh; tests shorten it through app.config
RANGES = {  # timeline ranges of the service page: (buckets, seconds per bucket)
    "24h": (48, 1800),
    "7d": (56, 3 * 3600),
    "30d": (60, 12 * 3600),
}
ACTIONS = {
    "mute": ({"muted": True}, "Mute", scopes.WRITE),
    "unmute": ({"muted": False}, "Unmute", scopes.WRITE),
    "deactivate": ({"active": False}, "Deactivate", scopes.WRITE),
    "reactivate": ({"active": True}, "Reactivate", scopes.WRITE),
}
# The mute lengths offered on the confirmation page ("": AUTO_UNMUTE_HOURS), as mute_for.
MUTE_CHOICES = ("", "1h", "4h", "24h")
MAX_BULK = forms.MAX_PER_PAGE
PUBLIC_ENDPOINTS = {"ui.login", "ui.static"}


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --- every request --------------------------------------------------------------


@bp.before_request
def _gate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (CSRFValidationError, CSRFError):
            raise Refused(400, "This form has expired or did not come from this dashboard (missing or wrong "
                               "CSRF token); nothing was changed. Reload the page and try again.") from None
    if auth.viewer() is None:
        if request.method == "POST" or request.headers.get("HX-Request"):
            raise Refused(401, "You are signed out; sign in again.")
        return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
    return None


@bp.app_context_processor
def _template_globals():
    return {"csrf_token": generate_csrf, "now": runtime().now, "reason_text": REASON_TEXT,
            "strip_html": strip_html, "outcome_strip_html": outcome_strip_html, "outcome_text": OUTCOME_TEXT,
            "poll_seconds": current_app.config.get("MEDIC_UI_POLL_SECONDS", POLL_SECONDS)}


@bp.context_processor
def _viewer():
    viewer = auth.viewer()
    return {"viewer": viewer, "auth_required": auth.auth_required(), "can": (viewer.can if viewer else (lambda s: False))}


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Vary"] = "Cookie, HX-Request"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.errorhandler(BadInput)
def _bad_input(exc: BadInput):
    return render_template("error.html", status=400, message=str(exc)), 400


@bp.errorhandler(Refused)
def _refused(exc: Refused):
    return render_template("error.html", status=exc.status, message=exc.message), exc.status


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return render_template("error.html", status=exc.code, message=exc.description), exc.code
    if isinstance(exc, ApiError):  # refused by the layers every request passes (cross-site writes, rate limits)
        return render_template("error.html", status=exc.status, message=exc.message), exc.status, exc.headers or {}
    if isinstance(exc, DATABASE_UNAVAILABLE):
        runtime().database_failures.failed(describe_db_error(exc))  # the API's line, throttled alike
        return render_template("error.html", status=503,
                               message="The database is not answering; try again in a moment."), 503
    log.exception("dashboard: unexpected error")  # named in the log (one line), never on the page
    return render_template("error.html", status=500, message="Something went wrong on our side; it has been logged."), 500


def _require(scope: str) -> None:
    if not auth.viewer().can(scope):
        raise Refused(403, f"This needs a key with the '{scope}' scope; you signed in with {auth.viewer().name}.")


def _no_service(name: str):
    raise Refused(404, f"No service is registered as '{name[:255]}'.")


# --- sign-in --------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("ui.services")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not auth.auth_required():
        return redirect(url_for("ui.services"))
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if auth.viewer() is not None:
            return redirect(next_url)
        return render_template("login.html", next=next_url, error=None)
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (CSRFValidationError, CSRFError):
        return render_template("login.html", next=next_url,
                               error="This form expired; sign in again."), 400
    try:
        auth.sign_in(request.form.get("api_key", ""))
    except auth.SignInRefused as exc:
        return render_template("login.html", next=next_url, error=str(exc)), 401
    return redirect(next_url, 303)


@bp.route("/logout", methods=["POST"])
def logout():
    auth.sign_out()
    if not auth.auth_required():
        return redirect(url_for("ui.services"), 303)
    return redirect(url_for("ui.login"), 303)


# --- overview -------------------------------------------------------------------


def _page_url(endpoint: str, args: dict, **changes) -> str:
    merged = {k: v for k, v in {**args, **changes}.items() if v not in (None, "", [], ())}
    query = urlencode(merged, doseq=True)
    return url_for(endpoint) + (f"?{query}" if query else "")


@bp.route("/")
def services():
    args = request.args
    filters = q.Filters(
        states=forms.states(args),
        team=forms.text(args, "team"),
        priority=forms.priority(args),
        search=forms.text(args, "q"),
    )
    per_page = forms.whole_number(args, "per_page", forms.PER_PAGE, 1, forms.MAX_PER_PAGE)
    page = forms.whole_number(args, "page", 1, 1, forms.MAX_PAGE)
    rt = runtime()
    now = rt.now()
    since = q.window_start(now, 3600, STRIP_BUCKETS)
    with rt.reads.connect() as conn:
        counts = q.state_counts(conn)
        rows, total = q.service_page(conn, filters, limit=per_page, offset=(page - 1) * per_page)
        strips = q.timelines(conn, [r.service_id for r in rows], since, 3600, STRIP_BUCKETS)
        teams = q.teams(conn)
        maintenance = _maintenance_lines(conn, now)
    pages = max(1, math.ceil(total / per_page))
    current = {"state": list(filters.states), "team": filters.team, "priority": filters.priority,
               "q": filters.search, "per_page": per_page if per_page != forms.PER_PAGE else None}
    context = dict(
        rows=rows, total=total, counts=counts, strips=strips, teams=teams, filters=filters,
        priorities=[p.value for p in Priority], states=[s.value for s in q.STATE_ORDER],
        page=page, pages=pages, per_page=per_page,
        prev_url=_page_url("ui.services", current, page=page - 1 if page > 1 else None) if page > 1 else None,
        next_url=_page_url("ui.services", current, page=page + 1) if page < pages else None,
        self_url=_page_url("ui.services", current, page=page if page > 1 else None),
        auto_unmute_hours=rt.settings.auto_unmute_hours, maintenance=maintenance,
    )
    if request.headers.get("HX-Request"):
        return render_template("_fleet.html", **context)
    return render_template("services.html", **context)


def _maintenance_lines(conn, now: datetime) -> list[dict]:
    """The maintenance windows in force (docs/maintenance.md), in words for the overview."""
    found = maintenance_store.in_force(conn, now)
    names = maintenance_store.names_of(conn, sorted({sid for w, _ in found for sid in w.scope.service_ids}))
    lines = []
    for window, until in found:
        scope = window.scope
        if scope.service_ids:
            shown = sorted(names.get(sid, f"#{sid}") for sid in scope.service_ids)
            what = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
        elif scope.team is not None:
            what = f"team {scope.team}"
        else:
            what = "services labelled " + ", ".join(f"{k}={v}" for k, v in sorted(scope.labels.items()))
        lines.append({"id": window.window_id, "reason": window.reason, "scope": what, "until": until})
    return lines


# --- one service ----------------------------------------------------------------


def _service_context(name: str, range_name: str) -> dict:
    rt = runtime()
    now = rt.now()
    buckets, width = RANGES[range_name]
    with rt.reads.connect() as conn:
        row = service_store.get_by_name(conn, name)
        if row is None:
            _no_service(name)
        since = q.window_start(now, width, buckets)
        timeline = q.timelines(conn, [row.service_id], since, width, buckets)[row.service_id]
        beats = q.recent_heartbeats(conn, row.service_id, 20)
        alert_rows, alert_total = q.alert_page(conn, q.AlertFilters(service_id=row.service_id), limit=20, offset=0)
        sent = q.deliveries(conn, [a.alert_id for a in alert_rows])
        runs = q.recent_runs(conn, row.service_id, 50)
        finished = job_store.finished_runs(conn, row.service_id, 100) if runs else []
        paging = who_gets_paged(conn, row, rt.settings)  # docs/routing.md
        held = window_at(maintenance_store.windows_since(conn, now), row.service_id, row.team, row.labels, now)
        slots = _recent_slots(conn, row, now, rt.settings.heartbeat_retention_days)
        depends_on = dependency_store.depends_on_names(conn, [row.service_id])[row.service_id]
    state = ServiceState.INACTIVE if not row.active else (
        ServiceState.MUTED if row.muted else ServiceState.DOWN if row.down else
        ServiceState.NEW if row.last_heartbeat_at is None else ServiceState.UP)
    durations = [r.duration_seconds for r in finished if r.state == RunState.SUCCEEDED and r.duration_seconds is not None]
    return dict(
        service=row, state=state.value, timeline=timeline, range_name=range_name, ranges=list(RANGES),
        beats=beats, alerts=alert_rows, alert_total=alert_total, deliveries=sent, runs=runs,
        stats=duration_stats(durations) if runs else None, durations=list(reversed(durations[:50])),
        errors={}, values={}, base_url=request.host_url.rstrip("/"),
        auto_unmute_hours=rt.settings.auto_unmute_hours, paging=paging, slots=slots, depends_on=depends_on,
        labels_text=forms.labels_text(row.labels),
        maintenance={"id": held[0].window_id, "reason": held[0].reason, "until": held[1]} if held else None,
    )


def _recent_slots(conn, row, now: datetime, retention_days: int) -> list[tuple[datetime, str]]:
    """The newest ended slots of a cron service, or windows of an interval one, oldest first."""
    if row.cron:
        return q.recent_slots(conn, row.service_id, now, SLOTS_SHOWN)
    width = row.alert_interval * 60
    start = align_down(now, width) - timedelta(seconds=width * SLOTS_SHOWN)
    judged = window_store.interval_windows(conn, row._mapping, start, now, now=now, retention_days=retention_days)
    return [(w.start, w.outcome.value) for w in judged]


def _range(args) -> str:
    value = forms.text(args, "range") or "24h"
    if value not in RANGES:
        raise BadInput(f"range: {value[:40]!r} is not one of {', '.join(RANGES)}")
    return value


@bp.route("/service/<path:name>")
def service(name: str):
    context = _service_context(name, _range(request.args))
    if request.headers.get("HX-Request"):
        return render_template("_service_live.html", **context)
    return render_template("service.html", **context)


@bp.route("/service/<path:name>/edit", methods=["POST"])
def edit(name: str):
    _require(scopes.WRITE)
    rt = runtime()
    changed_dependencies = False
    with rt.engine.begin() as conn:
        row = service_store.get_by_name(conn, name)
        if row is None:
            _no_service(name)
        current = dependency_store.depends_on_names(conn, [row.service_id])[row.service_id]
        changes, errors = forms.service_changes(request.form, row, current)
        if not errors and changes:
            interval = changes.get("alert_interval", row.alert_interval)
            grace = changes.get("grace_period_seconds", row.grace_period_seconds)
            if not window_fits_retention(interval, grace, rt.settings.heartbeat_retention_days):
                errors["alert_interval"] = (
                    f"the window (alert_interval plus grace_period_seconds) is longer than the "
                    f"{rt.settings.heartbeat_retention_days}-day heartbeat retention")
        if not errors and "depends_on" in changes:
            try:  # first: it writes nothing when it refuses, so nothing else is written either
                dependency_store.set_depends_on(conn, row.service_id, row.heartbeat_name, changes.pop("depends_on") or [])
            except DependencyError as exc:
                errors["depends_on"] = str(exc)
            changed_dependencies = True
        if not errors and changes:
            service_store.update_service(conn, row, changes, rt.now(), auto_unmute_hours=rt.settings.auto_unmute_hours)
    if errors:
        context = _service_context(name, "24h")
        context.update(errors=errors, values=request.form)
        return render_template("service.html", **context), 400
    flash("Settings saved." if changes or changed_dependencies else "Nothing to change.")
    return redirect(url_for("ui.service", name=row.heartbeat_name), 303)


@bp.route("/actions", methods=["POST"])
def act():
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise BadInput(f"action: must be one of {', '.join(ACTIONS)}")
    changes, label, scope = ACTIONS[action]
    _require(scope)
    mute_for = request.form.get("mute_for", "") if action == "mute" else ""
    if mute_for not in MUTE_CHOICES:
        raise BadInput(f"mute_for: must be one of {', '.join(c for c in MUTE_CHOICES if c)}, or left empty")
    names = [n.strip() for n in request.form.getlist("names") if n.strip()]
    if not names:
        raise BadInput("Select at least one service first.")
    if len(names) > MAX_BULK:
        raise BadInput(f"Select at most {MAX_BULK} services at once.")
    back = _safe_next(request.form.get("back"))
    rt = runtime()
    if request.form.get("confirm") != "yes":
        with rt.engine.connect() as conn:
            found = q.services_by_names(conn, names)
        if not found:
            raise Refused(404, "None of the selected services exists any more.")
        return render_template("confirm.html", action=action, label=label, services=found, back=back,
                               auto_unmute_hours=rt.settings.auto_unmute_hours, mute_choices=MUTE_CHOICES[1:])
    if mute_for:
        changes = {**changes, "muted_until": mute_end(rt.now(), 0, mute_for=parse_mute_for(mute_for))}
    done = 0
    with rt.engine.begin() as conn:
        for row in q.services_by_names(conn, names):
            service_store.update_service(conn, row, changes, rt.now(), auto_unmute_hours=rt.settings.auto_unmute_hours)
            done += 1
    log.info("dashboard %s of %d service(s) by %s", action, done, auth.viewer().name)
    flash(f"{label}d {done} service{'s' if done != 1 else ''}.")
    return redirect(back, 303)


# --- alerts ---------------------------------------------------------------------

SINCE = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}


@bp.route("/alerts")
def alerts():
    args = request.args
    since_name = forms.text(args, "since") or "7d"
    if since_name not in SINCE:
        raise BadInput(f"since: {since_name[:40]!r} is not one of {', '.join(SINCE)}")
    rt = runtime()
    now = rt.now()
    window = SINCE[since_name]
    filters = q.AlertFilters(team=forms.text(args, "team"), reason=forms.reason(args),
                             since=now - window if window else None)
    page = forms.whole_number(args, "page", 1, 1, forms.MAX_PAGE)
    per_page = forms.PER_PAGE
    with rt.reads.connect() as conn:
        rows, total = q.alert_page(conn, filters, limit=per_page, offset=(page - 1) * per_page)
        sent = q.deliveries(conn, [a.alert_id for a in rows])
        teams = q.teams(conn)
        maintenance = _maintenance_lines(conn, now)
    pages = max(1, math.ceil(total / per_page))
    current = {"team": filters.team, "reason": filters.reason, "since": since_name if since_name != "7d" else None}
    context = dict(
        rows=rows, total=total, deliveries=sent, teams=teams, reasons=[r.value for r in OpenReason],
        filters=filters, since_name=since_name, since_choices=list(SINCE), page=page, pages=pages,
        prev_url=_page_url("ui.alerts", current, page=page - 1) if page > 1 else None,
        next_url=_page_url("ui.alerts", current, page=page + 1) if page < pages else None,
        self_url=_page_url("ui.alerts", current, page=page if page > 1 else None),
    )
    if request.headers.get("HX-Request"):
        return render_template("_alerts_live.html", **context)
    return render_template("alerts.html", **context)


# --- health ---------------------------------------------------------------------


@bp.route("/health")
def health():
    from medic.web.routes.health import health as health_report

    response = health_report()
    body = response.get_json()
    return render_template("health.html", report=body.get("results") or {}, message=body.get("message"),
                           status=body.get("status"), code=response.status_code)


# --- API keys -------------------------------------------------------------------


def _keys_page(created=None, error=None, form=None, status=200):
    rt = runtime()
    rows = list_keys(rt.engine, include_revoked=True)
    now = rt.now()
    keys = [(row, key_status(row, now)) for row in rows]
    keys.sort(key=lambda pair: (pair[1] != "active", -pair[0].key_id))
    return render_template("keys.html", keys=keys, created=created, error=error, form=form,
                           scope_names=scopes.SCOPES), status


@bp.route("/keys")
def keys():
    _require(scopes.ADMIN)
    return _keys_page()


@bp.route("/keys", methods=["POST"])
def create_api_key():
    _require(scopes.ADMIN)
    rt = runtime()
    name = request.form.get("name", "")
    chosen = request.form.getlist("scopes")
    days = request.form.get("expires_days", "").strip()
    expires_at = None
    if days:
        if not days.isdigit() or not 1 <= int(days) <= 3650:
            return _keys_page(error="expires in: a whole number of days from 1 to 3650, or blank for never",
                              form=request.form, status=400)
        expires_at = rt.now() + timedelta(days=int(days))
    try:
        created = create_key(rt.engine, name, chosen, rt.now(), expires_at)
    except KeyManagementError as exc:
        return _keys_page(error=str(exc), form=request.form, status=400)
    log.info("dashboard created key %s (%s) by %s", created.row.public_id, created.row.name, auth.viewer().name)
    return _keys_page(created=created)


@bp.route("/keys/<public_id>/revoke", methods=["POST"])
def revoke_api_key(public_id: str):
    _require(scopes.ADMIN)
    rt = runtime()
    if request.form.get("confirm") != "yes":
        return render_template(
            "confirm_one.html", question=f"Revoke key {public_id}?", button="Yes, revoke",
            consequence="Everything using this key is refused from now on (within MEDIC_AUTH_CACHE_SECONDS), "
                        "and its dashboard sessions end.",
            action=url_for("ui.revoke_api_key", public_id=public_id), back=url_for("ui.keys"))
    try:
        row = revoke_key(rt.engine, public_id, rt.now())
    except KeyManagementError as exc:
        return _keys_page(error=str(exc), status=404)
    log.info("dashboard revoked key %s by %s", row.public_id, auth.viewer().name)
    flash(f"Key {row.public_id} ({row.name}) revoked.")
    return redirect(url_for("ui.keys"), 303)


# --- routes ---------------------------------------------------------------------


def _routes_page(error: str | None = None, form=None, status: int = 200):
    with runtime().engine.connect() as conn:
        found = route_store.list_routes(conn)
    return render_template("routes.html", routes=found, error=error,
                           form=forms.route_form_echo(form) if form else {},
                           describe_target=describe_target), status


@bp.route("/routes")
def routes():
    return _routes_page()


@bp.route("/routes", methods=["POST"])
def create_route():
    _require(scopes.ADMIN)
    try:
        body = RouteCreate.model_validate(forms.route_body(request.form))
        created = add_route(body)
    except BadInput as exc:
        return _routes_page(error=str(exc), form=request.form, status=400)
    except ValidationError as exc:
        return _routes_page(error=validation_error(exc, "route").message, form=request.form, status=400)
    except ApiError as exc:
        return _routes_page(error=exc.message, form=request.form, status=exc.status)
    log.info("dashboard created route %s (%s) by %s", created["id"], created["name"], auth.viewer().name)
    flash(f"Route {created['name']} created.")
    return redirect(url_for("ui.routes"), 303)


@bp.route("/routes/<route_id>/delete", methods=["POST"])
def delete_route(route_id: str):
    _require(scopes.ADMIN)
    if request.form.get("confirm") != "yes":
        return render_template(
            "confirm_one.html", question=f"Delete route {route_id[:20]}?", button="Yes, delete",
            consequence="New alerts stop matching it at once; alerts already open still resolve on the "
                        "targets their trigger went to.",
            action=url_for("ui.delete_route", route_id=route_id), back=url_for("ui.routes"))
    try:
        remove_route(route_id)
    except ApiError as exc:
        return _routes_page(error=exc.message, status=exc.status)
    log.info("dashboard deleted route %s by %s", route_id[:20], auth.viewer().name)
    flash(f"Route {route_id} deleted.")
    return redirect(url_for("ui.routes"), 303)


# --- template filters -----------------------------------------------------------


def strip_html(buckets, label: str) -> Markup:
    """A row of coloured cells, one per bucket, each with its figures on hover, and the
    whole summarised in words for screen readers (colour is never the only signal)."""
    cells = []
    up = down = 0
    for b in buckets:
        outcome = b.outcome
        up += outcome == "up"
        down += outcome in ("down", "mixed")
        cells.append(f'<span class="b b-{outcome}" title="{b.start:%m-%d %H:%M}: {b.good} up, {b.bad} down"></span>')
    summary = f"{escape(label)}: {up} up, {down} with DOWN, {len(buckets) - up - down} without heartbeats"
    return Markup(f'<span class="strip" role="img" aria-label="{summary}">{"".join(cells)}</span>')


def outcome_strip_html(slots, label: str) -> Markup:
    """A row of cells, one per slot or window, coloured by outcome, each with its time and
    outcome in words on hover, and the counts in words for screen readers."""
    cells, counts = [], {}
    for at, outcome in slots:
        words = OUTCOME_TEXT.get(outcome, outcome)
        counts[words] = counts.get(words, 0) + 1
        cells.append(f'<span class="b o-{escape(outcome)}" title="{at:%m-%d %H:%M} UTC: {escape(words)}"></span>')
    summary = ", ".join(f"{counts[words]} {words}" for words in OUTCOME_TEXT.values() if words in counts) or "none yet"
    return Markup(f'<span class="strip" role="img" aria-label="{escape(label)}: {escape(summary)}">{"".join(cells)}</span>')


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{int(seconds // 86400)} d"


@bp.app_template_filter("ago")
def _ago(when: datetime) -> str:
    delta = (runtime().now() - when).total_seconds()
    return f"in {_span(delta)}" if delta < 0 else f"{_span(delta)} ago"


@bp.app_template_filter("due")
def _due(row) -> str:
    if not row.active:
        return "not watched"
    left = row.deadline - runtime().now().timestamp()
    return f"in {_span(left)}" if left >= 0 else f"overdue by {_span(left)}"


@bp.app_template_filter("why")
def _why(row) -> str:
    from medic.core.health import open_reason
    from medic.store.schedules import cron_of

    values = row._mapping
    return REASON_TEXT[open_reason(
        row.last_heartbeat_at, row.last_status, cron=cron_of(values), deadline=values.get("deadline"),
        grace_period_seconds=values.get("grace_period_seconds") or 0,
        start_margin_seconds=values.get("start_margin_seconds"),
    )]


@bp.app_template_filter("seconds")
def _seconds(value) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s" if value < 120 else _span(value)


@bp.app_template_filter("delivery_text")
def _delivery_text(n) -> str:
    if n.state == "delivered":
        return f"sent {_ago(n.finished_at) if n.finished_at else ''}".strip() + (f" after {n.attempts} attempts" if n.attempts > 1 else "")
    if n.state == "failed":
        return f"failed after {n.attempts} attempt{'s' if n.attempts != 1 else ''}"
    if n.attempts:
        return f"retrying ({n.attempts} attempt{'s' if n.attempts != 1 else ''} so far, next {_ago(n.next_attempt_at)})"
    return "queued" if n.state == "pending" else "sending"
