"""Who is looking at the dashboard: sign-in with an API key, kept in a signed cookie.

The cookie holds no key: only which key signed in (its public id) and when. Every
request reads that key's row again, so a revoked or expired key ends its sessions
at once. The signing secret is MEDIC_SESSION_SECRET when set, else a random one
created once in the database (worker_state), shared by every process and replica.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, g, session
from flask.sessions import SecureCookieSessionInterface

from medic.auth import scopes
from medic.store import api_keys
from medic.store import worker_state as ws
from medic.store.errors import DATABASE_UNAVAILABLE
from medic.web.context import Runtime, runtime
from medic.auth.authenticator import Unauthenticated

log = logging.getLogger("medic.ui")

SESSION_LIFETIME = timedelta(hours=12)
SECRET_ROW = "ui_session_secret"
COOKIE_PATH = "/ui"


@dataclass(frozen=True)
class Viewer:
    kind: str  # "key", "admin", "anonymous" (auth disabled)
    scopes: frozenset[str]
    name: str
    public_id: str | None = None

    def can(self, scope: str) -> bool:
        return scopes.grants(self.scopes, scope)


EVERYONE = Viewer("anonymous", scopes.effective(scopes.SCOPES), "(authentication disabled)")


def _stored_secret(rt: Runtime) -> str:
    with rt.engine.begin() as conn:
        row = ws.get(conn, SECRET_ROW)
        if row is not None and row.value:
            return row.value
    candidate = secrets.token_hex(32)
    with rt.engine.begin() as conn:
        if ws.get(conn, SECRET_ROW) is None:
            try:
                with conn.begin_nested():
                    conn.execute(ws.worker_state.insert().values(name=SECRET_ROW, value=candidate, updated_at=rt.now()))
            except Exception:  # another process created it first: use theirs
                pass
    with rt.engine.connect() as conn:
        return ws.get(conn, SECRET_ROW).value


class LazySecretSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the secret read on first use."""

    def open_session(self, app: Flask, request):
        if not app.secret_key and request.path.startswith(COOKIE_PATH):
            try:
                app.secret_key = os.environ.get("MEDIC_SESSION_SECRET") or _stored_secret(app.extensions["medic"])
            except DATABASE_UNAVAILABLE as exc:  # the page will say the database is down
                log.error("dashboard: cannot read the session secret: %s", type(exc).__name__)
                return self.make_null_session(app)
        return super().open_session(app, request)


def configure(app: Flask) -> None:
    app.session_interface = LazySecretSessions()
    app.config.update(
        SESSION_COOKIE_NAME="medic_session",
        SESSION_COOKIE_PATH=COOKIE_PATH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("MEDIC_SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,  # the cookie's expiry, and the signature's max age
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session
        WTF_CSRF_FIELD_NAME="csrf_token",
    )


def auth_required() -> bool:
    return runtime().settings.auth == "required"


class SignInRefused(Exception):
    pass


def sign_in(presented: str) -> Viewer:
    """Check the key for real; on success the session names it (never holds it)."""
    rt = runtime()
    presented = presented.strip()
    if not presented:
        raise SignInRefused("paste an API key to sign in")
    try:
        principal = rt.authenticator.authenticate(presented)
    except Unauthenticated as exc:
        raise SignInRefused(f"{exc}: check the key and try again") from None
    if not scopes.grants(principal.scopes, scopes.READ):
        raise SignInRefused("this key can only send heartbeats; the dashboard needs a key with the 'read' scope")
    session.clear()  # a new session at sign-in: nothing carried over from before
    session.permanent = True
    if principal.kind == "admin":
        session["who"] = {"kind": "admin", "fp": _admin_fingerprint(rt)}
    else:
        session["who"] = {"kind": "key", "id": principal.public_id}
    log.info("dashboard sign-in by %s", principal.describe())
    return viewer()


def sign_out() -> None:
    session.clear()


def _admin_fingerprint(rt: Runtime) -> str | None:
    admin = rt.settings.admin_api_key
    if admin is None:
        return None
    return hmac.new(admin.get_secret_value().encode(), b"medic-dashboard", "sha256").hexdigest()[:16]


def viewer() -> Viewer | None:
    """The signed-in viewer (everyone when auth is disabled); None when nobody is."""
    if "viewer" in g:
        return g.viewer
    g.viewer = _resolve()
    return g.viewer


def _resolve() -> Viewer | None:
    rt = runtime()
    if rt.settings.auth == "disabled":
        return EVERYONE
    who = session.get("who")
    if not isinstance(who, dict):
        return None
    if who.get("kind") == "admin":
        fp = _admin_fingerprint(rt)
        if fp is None or not hmac.compare_digest(str(who.get("fp")), fp):
            return None  # the admin key was changed or removed since
        return Viewer("admin", scopes.effective([scopes.ADMIN]), "MEDIC_ADMIN_API_KEY")
    public_id = who.get("id")
    if who.get("kind") != "key" or not isinstance(public_id, str):
        return None
    with rt.engine.connect() as conn:
        row = api_keys.get_by_public_id(conn, public_id)
    now = rt.now()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return Viewer("key", scopes.effective(row.scopes.split()), row.name, public_id)
