"""The web dashboard under /ui/: server-rendered pages, htmx for live refresh."""

from __future__ import annotations

import functools

from flask import Blueprint, Flask, redirect

from medic.auth.scopes import OPEN
from medic.web.api import Operation
from medic.web.ui import session
from medic.web.ui.views import bp

root = Blueprint("ui_root", __name__)


@root.route("/")
def index():
    return redirect("/ui/", 302)


def install(app: Flask) -> None:
    """Register the dashboard. Its pages are not API operations: they sign people in
    with a session cookie (medic.web.ui.session) instead of an API key per request."""
    session.configure(app)
    app.register_blueprint(root)
    app.register_blueprint(bp)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith(("ui.", "ui_root.")):
            rule = next(r.rule for r in app.url_map.iter_rules() if r.endpoint == endpoint)
            app.view_functions[endpoint] = _open(view, Operation(rule=rule, method="GET", summary="", tag="ui", scope=OPEN, raw=True))


def _open(view, op: Operation):
    """`view` marked as needing no API key (the auth layer reads `.operation`)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)

    wrapper.operation = op
    return wrapper
