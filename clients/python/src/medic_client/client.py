"""HTTP client for Medic, built on the standard library only.

A monitoring client must never be the reason a program fails, so by default every
failure (server down, 4xx, 5xx, bad reply) is logged and reported through the return
value. ``raise_errors=True`` turns those failures into :class:`MedicError`.
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import json
import logging
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Callable, Dict, List, Optional, TypeVar

__all__ = ["Client", "Job", "MedicError", "SendHeartbeat", "DEFAULT_BASE_URL"]

__version__ = "1.0.0"

log = logging.getLogger("medic_client")

DEFAULT_BASE_URL = "http://localhost:5000"
# A server asking for a longer pause than this is treated as asking for this long:
# a heartbeat that arrives minutes late is worth less than one that fails fast.
MAX_RETRY_AFTER_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
# Fail reasons are for humans reading an alert; keep request bodies small.
MAX_MESSAGE_CHARS = 2000

F = TypeVar("F", bound=Callable[..., Any])


class MedicError(Exception):
    """A request to Medic failed.

    ``status_code`` is the HTTP status (None when the server could not be reached),
    ``body`` the decoded JSON reply when there was one, ``attempts`` how many times
    the request was tried.
    """

    def __init__(
        self,
        message: str,
        status_code: Optional[int] = None,
        body: Any = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.attempts = attempts


def _retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """Parse a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _decode(payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"message": payload[:200].decode("utf-8", "replace")}


def _envelope_message(body: Any, default: str) -> str:
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return default


def _results(body: Any) -> Any:
    return body.get("results") if isinstance(body, dict) else None


def _one(results: Any) -> Any:
    # GET /service/<name> answers a one-element list (the original Medic's shape);
    # servers before that answered the record itself.
    if isinstance(results, list):
        return results[0] if results else None
    return results


def _describe(exc: BaseException) -> str:
    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return message[:MAX_MESSAGE_CHARS]


class Client:
    """Talks to one Medic server.

    :param base_url: server URL; defaults to ``$MEDIC_BASE_URL``, then ``http://localhost:5000``.
    :param api_key: sent as ``Authorization: Bearer``; defaults to ``$MEDIC_API_KEY``.
    :param timeout: seconds per attempt.
    :param retries: extra attempts after the first on connection errors, 5xx and 429.
    :param backoff: first retry delay in seconds, doubled on each further retry.
    :param raise_errors: raise :class:`MedicError` instead of logging and returning
        ``False``/``None``.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        raise_errors: bool = False,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if backoff < 0:
            raise ValueError("backoff must be >= 0")
        base_url = base_url or os.environ.get("MEDIC_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else (os.environ.get("MEDIC_API_KEY") or None)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.raise_errors = raise_errors

    def __repr__(self) -> str:  # never show the key
        return f"Client(base_url={self.base_url!r}, api_key={'***' if self.api_key else None})"

    # -- public API -----------------------------------------------------------

    def heartbeat(self, name: str, status: str = "UP", service_name: Optional[str] = None) -> bool:
        """Send a heartbeat. Returns True when Medic stored it."""
        body: Dict[str, Any] = {"heartbeat_name": name, "status": str(status).upper()}
        if service_name:
            body["service_name"] = service_name

        def call() -> bool:
            self._request("POST", "/heartbeat", body)
            return True

        return self._guard(f"heartbeat {name!r}", call, False)

    def register(
        self, heartbeat_name: str, service_name: str, alert_interval: Optional[int] = None, **options: Any
    ) -> Optional[Dict[str, Any]]:
        """Register a service (idempotent). Options: threshold, team, priority,
        runbook, grace_period_seconds, environment, schedule (a cron schedule:
        ``{"cron": "0 3 * * *", "timezone": "Europe/Berlin", "grace": 600,
        "start_margin": ..., "max_runtime": ..., "min_runtime": ...}``; then
        alert_interval may be left out). Returns the service record."""
        body: Dict[str, Any] = {"heartbeat_name": heartbeat_name, "service_name": service_name}
        if alert_interval is not None:
            body["alert_interval"] = alert_interval
        body.update({k: v for k, v in options.items() if v is not None})
        return self._guard(
            f"register {heartbeat_name!r}", lambda: _results(self._request("POST", "/service", body)), None
        )

    def get_service(self, heartbeat_name: str) -> Optional[Dict[str, Any]]:
        """The service record, or None when unknown or on failure. Its flags (`active`,
        `muted`, `down`) are 0 or 1, as the original Medic answered them."""
        path = "/service/" + urllib.parse.quote(heartbeat_name, safe="")
        return self._guard(f"get service {heartbeat_name!r}", lambda: _one(_results(self._request("GET", path))), None)

    def get_heartbeats(
        self,
        heartbeat_name: Optional[str] = None,
        max_count: int = 250,
        service_name: Optional[str] = None,
    ) -> Optional[List[Dict[str, Any]]]:
        """Recent heartbeats, newest first."""
        query: Dict[str, Any] = {"maxCount": max_count}
        if heartbeat_name:
            query["heartbeat_name"] = heartbeat_name
        if service_name:
            query["service_name"] = service_name
        return self._guard(
            "get heartbeats", lambda: _results(self._request("GET", "/heartbeat", query=query)), None
        )

    def start_job(self, name: str, run_id: Optional[str] = None) -> Optional[str]:
        """Signal a job run started. Returns the run id (generated by the server
        when none is given)."""
        return self._job_signal(name, "start", run_id)

    def complete_job(self, name: str, run_id: Optional[str] = None) -> Optional[str]:
        """Signal a run completed; without run_id the newest open run is closed."""
        return self._job_signal(name, "complete", run_id)

    def fail_job(self, name: str, run_id: Optional[str] = None, message: Optional[str] = None) -> Optional[str]:
        """Signal a run failed, with an optional reason."""
        return self._job_signal(name, "fail", run_id, message)

    def job(self, name: str, run_id: Optional[str] = None) -> "Job":
        """Report a job run: ``with client.job("nightly"):`` or ``@client.job("nightly")``."""
        return Job(self, name, run_id)

    # -- plumbing -------------------------------------------------------------

    def _job_signal(self, name: str, action: str, run_id: Optional[str], message: Optional[str] = None) -> Optional[str]:
        body: Dict[str, Any] = {}
        if run_id:
            body["run_id"] = run_id
        if message:
            body["message"] = message[:MAX_MESSAGE_CHARS]
        path = f"/v2/heartbeat/{urllib.parse.quote(name, safe='')}/{action}"

        def call() -> Optional[str]:
            results = _results(self._request("POST", path, body))
            found = results.get("run_id") if isinstance(results, dict) else None
            return found or run_id

        return self._guard(f"job {action} {name!r}", call, None)

    def _guard(self, what: str, call: Callable[[], Any], default: Any) -> Any:
        try:
            return call()
        except MedicError as exc:
            if self.raise_errors:
                raise
            log.warning("medic: %s failed: %s", what, exc)
        except Exception as exc:  # noqa: BLE001 - a monitoring client must not crash its host
            if self.raise_errors:
                raise MedicError(f"{what} failed: {exc}") from exc
            log.warning("medic: %s failed unexpectedly: %s", what, exc, exc_info=True)
        return default

    def _delay(self, attempt: int, retry_after: Optional[str] = None) -> float:
        asked = _retry_after_seconds(retry_after)
        if asked is not None:
            return asked
        delay = min(self.backoff * (2 ** (attempt - 1)), MAX_BACKOFF_SECONDS)
        # Jitter keeps a fleet of clients from retrying in lock-step after an outage.
        return delay * random.uniform(0.5, 1.0)

    def _request(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        query: Optional[Dict[str, Any]] = None,
    ) -> Any:
        """Send one request with retries; return the decoded 2xx reply or raise MedicError."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Accept": "application/json", "User-Agent": f"medic-client-python/{__version__}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"

        attempt = 0
        while True:
            attempt += 1
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return _decode(response.read())
            except urllib.error.HTTPError as exc:
                status = exc.code
                try:
                    reply = _decode(exc.read())
                except (OSError, http.client.HTTPException):
                    reply = None
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                exc.close()
                message = f"{method} {path}: HTTP {status}: {_envelope_message(reply, exc.reason or 'error')}"
                if (status == 429 or status >= 500) and attempt <= self.retries:
                    delay = self._delay(attempt, retry_after)
                    log.info("medic: %s; retrying in %.2fs", message, delay)
                    time.sleep(delay)
                    continue
                raise MedicError(message, status_code=status, body=reply, attempts=attempt) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                if attempt <= self.retries:
                    delay = self._delay(attempt)
                    log.info("medic: %s %s%s: %s; retrying in %.2fs", method, self.base_url, path, reason, delay)
                    time.sleep(delay)
                    continue
                raise MedicError(
                    f"cannot reach Medic at {self.base_url} ({method} {path}): {reason}; "
                    f"gave up after {attempt} attempt{'s' if attempt != 1 else ''}",
                    attempts=attempt,
                ) from None


class Job:
    """One job run reported to Medic: start on entry, then complete or fail.

    Used as a context manager it reports a single run and exposes ``run_id``.
    Used as a decorator each call of the function is a new run. An exception in the
    wrapped code is sent as the fail reason and then re-raised unchanged.
    """

    def __init__(self, client: Client, name: str, run_id: Optional[str] = None) -> None:
        self.client = client
        self.name = name
        self._given_run_id = run_id
        self.run_id: Optional[str] = run_id

    def __enter__(self) -> "Job":
        # Generated here rather than by the server so that a retried start and the
        # closing signal refer to the same run even when runs of this job overlap.
        self.run_id = self._given_run_id or uuid.uuid4().hex
        self.client.start_job(self.name, run_id=self.run_id)
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        if exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0)):
            self.client.complete_job(self.name, run_id=self.run_id)
            return False
        try:
            self.client.fail_job(self.name, run_id=self.run_id, message=_describe(exc))
        except MedicError as signal_error:
            # The caller's own exception matters more than the failed report of it.
            log.warning("medic: job fail %r failed: %s", self.name, signal_error)
        return False

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Job(self.client, self.name, self._given_run_id):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def SendHeartbeat(heartbeat_name: str, service_name: str, status: str, base_url: Optional[str] = None) -> bool:  # noqa: N802 - original name kept for existing callers
    """Send one heartbeat; True on success. Never raises (the original API)."""
    try:
        return Client(base_url=base_url).heartbeat(heartbeat_name, status=status, service_name=service_name)
    except Exception as exc:  # noqa: BLE001 - e.g. an invalid setting must not crash the caller
        log.warning("medic: heartbeat %r failed: %s", heartbeat_name, exc)
        return False
