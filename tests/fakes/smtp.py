"""A stand-in SMTP server on 127.0.0.1 for tests: aiosmtpd, a real SMTP implementation.

    with fake_smtp() as smtp:
        channel = EmailChannel("127.0.0.1", "medic@example.com", "oncall@example.com",
                               port=smtp.port, tls="none")
        smtp.queue("451 4.3.0 Try again later")   # the next DATA is refused (transient)
        smtp.queue(Hang(5))                        # the one after answers only after 5 s
        ...
        [mail] = smtp.wait_for(1)
        assert mail.message["Subject"].startswith("[Medic]")

Scripted replies are consumed in order, one per message (at DATA); then the
server accepts. `refuse_recipient` answers RCPT for one address with a reply.
With `username`/`password`, AUTH PLAIN/LOGIN is offered and checked (and, with
`tls_context`, STARTTLS too; aiosmtpd then offers AUTH only after STARTTLS).
`hanging_smtp` accepts connections and never says a word (a server that times out).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Union

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["FakeSMTP", "Hang", "Received", "fake_smtp", "hanging_smtp"]


@dataclass(frozen=True)
class Hang:
    """Answer DATA only after `seconds` (to force a client timeout), then with `reply`."""

    seconds: float
    reply: str = "250 OK"


Reply = Union[str, Hang]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    login: str | None  # the user that authenticated, if any

    def part(self, content_type: str) -> str:
        """The decoded text of the first part of this type (text/plain, text/html)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content().replace("\r\n", "\n")
        raise AssertionError(f"no {content_type} part in {self.message['Subject']!r}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeSMTP:
    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self._username = username
        self._password = password
        self._tls_context = tls_context
        self._implicit_tls = implicit_tls
        self._received: list[Received] = []
        self._replies: list[Reply] = []
        self._refused: dict[str, str] = {}
        self._cond = threading.Condition()
        self._controller: Controller | None = None
        self.attempts = 0  # DATA commands seen, accepted or not
        self.auth_failures = 0

    # lifecycle -------------------------------------------------------------

    def start(self) -> FakeSMTP:
        kwargs: dict = {}
        if self._username is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = self._tls_context is not None and not self._implicit_tls
        if self._tls_context is not None and not self._implicit_tls:
            kwargs["tls_context"] = self._tls_context
            kwargs["require_starttls"] = True
        self._controller = Controller(
            self, hostname="127.0.0.1", port=_free_port(),
            ssl_context=self._tls_context if self._implicit_tls else None,
            server_hostname="127.0.0.1", ready_timeout=5, **kwargs,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._controller is not None, "fake SMTP server is not running"
        return self._controller.port

    # scripting and inspection ---------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        """The next messages get these answers at DATA (e.g. "451 4.3.0 later", Hang(3))."""
        with self._cond:
            self._replies.extend(replies)

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        with self._cond:
            self._refused[address.lower()] = reply

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._received) >= count, timeout=timeout):
                raise AssertionError(f"fake SMTP: expected {count} message(s) within {timeout}s, got {len(self._received)}")
            return list(self._received)

    # aiosmtpd handler hooks (run in the server's event loop thread) -------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self._username
            and auth_data.password.decode() == self._password
        )
        if not ok:
            with self._cond:
                self.auth_failures += 1
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data.login.decode())

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        with self._cond:
            refusal = self._refused.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._cond:
            self.attempts += 1
            reply = self._replies.pop(0) if self._replies else "250 Message accepted for delivery"
        if isinstance(reply, Hang):
            await asyncio.sleep(reply.seconds)
            reply = reply.reply
        if not reply.startswith("250"):
            return reply
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message, session.auth_data)
        with self._cond:
            self._received.append(received)
            self._cond.notify_all()
        return reply


def fake_smtp(**kwargs) -> FakeSMTP:
    return FakeSMTP(**kwargs)


class hanging_smtp:
    """A TCP port that accepts connections and never answers (no greeting)."""

    def __enter__(self) -> hanging_smtp:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)  # the kernel completes handshakes; nobody ever reads or writes
        self.port = self._sock.getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sock.close()

