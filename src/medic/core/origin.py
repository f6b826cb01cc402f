"""Which browser origins may send writes: Medic's own, and those an operator lists.

A browser sends a cross-site POST with `Content-Type: text/plain` without asking
first, and says where the page came from in `Origin`. Non-browser clients send no
Origin and are not affected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: str) -> str | None:
    """`scheme://host[:port]` lowercased with a default port dropped; None when `value` is not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    shown_port = "" if port in (None, DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


def _host_and_port(value: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(f"//{value.strip()}")
        return (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None


def write_allowed(origin: str | None, host: str | None, allowed: frozenset[str]) -> bool:
    """Whether a write carrying this `Origin` header may run.

    No Origin (curl, the clients, servers): allowed. Otherwise the origin must be
    one of `allowed` (normalised) or name the host the request was sent to: the
    Host header's name, and its port when it gives one (behind a TLS proxy the
    Host header often has no port while the Origin implies 443). `null` (a
    sandboxed page, a local file) and anything unparseable are refused.
    """
    if origin is None:
        return True
    normal = normalise_origin(origin)
    if normal is None:
        return False
    if normal in allowed:
        return True
    target = _host_and_port(host or "")
    if target is None or not target[0]:
        return False
    parts = urlsplit(normal)
    origin_port = parts.port or DEFAULT_PORTS[parts.scheme]
    name, port = target
    return parts.hostname == name.strip("[]") and (port is None or port == origin_port)
