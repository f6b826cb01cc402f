"""The small HTTP client `medic heartbeat`, `medic job`, `medic route`, `medic maintenance`
and `medic apply` share.

They reach a Medic server at MEDIC_BASE_URL with MEDIC_API_KEY and never open
the database, so they run on any machine that can reach the server.
"""

from __future__ import annotations

import time
from typing import Any

import click

DEFAULT_URL = "http://127.0.0.1:5000"


class Unsent(Exception):
    """A request Medic did not accept (after retries); the message says why, ``status``
    is the HTTP status of the last reply (None when Medic could not be reached)."""

    def __init__(self, problem: str, status: int | None = None):
        super().__init__(problem)
        self.status = status


def client(url: str, api_key: str | None, timeout: float):
    import httpx  # imported here: the server commands never need it

    from medic import __version__

    headers = {"Accept": "application/json", "User-Agent": f"medic-cli/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)


def post(session, path: str, body: dict[str, Any], retries: int) -> dict[str, Any]:
    """POST with retries on connection errors, 5xx and 429; the decoded reply or Unsent."""
    return request(session, "POST", path, body, retries)


def request(session, method: str, path: str, body: Any = None, retries: int = 0) -> dict[str, Any]:
    """One call with retries on connection errors, 5xx and 429; the decoded reply or Unsent."""
    import httpx

    status = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
        try:
            response = session.request(method, path, json=body)
        except httpx.HTTPError as exc:
            problem, status = f"cannot reach Medic at {session.base_url}: {str(exc) or type(exc).__name__}", None
            continue
        try:
            reply = response.json()
        except ValueError:
            reply = {}
        message = reply.get("message") if isinstance(reply, dict) else None
        if response.is_success:
            return reply if isinstance(reply, dict) else {}
        problem, status = f"HTTP {response.status_code}: {message or response.reason_phrase}", response.status_code
        if response.status_code != 429 and response.status_code < 500:
            break  # the request itself is wrong: retrying cannot help
    raise Unsent(problem, status)


def connection_options(func):
    """--url, --api-key, --timeout and --retries, as every HTTP command takes them."""
    func = click.option(
        "--retries", type=click.IntRange(0, 10), default=2, show_default=True,
        help="Extra attempts on connection errors, 5xx and 429.",
    )(func)
    func = click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds per request.")(func)
    func = click.option("--api-key", envvar="MEDIC_API_KEY", show_envvar=True, default=None, help="Sent as a Bearer token.")(func)
    func = click.option("--url", envvar="MEDIC_BASE_URL", show_envvar=True, default=DEFAULT_URL, show_default=True, help="Medic server.")(func)
    return func


def call(url: str, api_key: str | None, method: str, path: str, body: Any = None) -> dict:
    """One request to the management API (no retries: a person is waiting); the decoded
    reply, or a ClickException with the status and the server's message."""
    import httpx

    try:
        with client(url, api_key, 10.0) as session:
            response = session.request(method, path, json=body)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach Medic at {url}: {type(exc).__name__}") from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if response.status_code >= 400:
        raise click.ClickException(f"{response.status_code}: {data.get('message') or response.reason_phrase}")
    return data


def api_options(func):
    """--url and --api-key, as the management commands take them."""
    func = click.option("--api-key", envvar="MEDIC_API_KEY", show_envvar=True, default=None, help="Sent as a Bearer token.")(func)
    func = click.option("--url", envvar="MEDIC_BASE_URL", show_envvar=True, default=DEFAULT_URL, show_default=True, help="Medic server.")(func)
    return func
