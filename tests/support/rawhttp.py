"""Raw HTTP/1.1 over a socket: send exact bytes, read every reply, see whether the
server closed the connection. For what an HTTP client library would refuse to send
(conflicting framing headers, folded headers, HTTP/0.9, a 10 KB request line)."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Exchange:
    replies: list[Reply]
    closed: bool  # the server closed the connection (EOF or reset) before the wait ran out
    raw: bytes = field(repr=False, default=b"")

    @property
    def only(self) -> Reply:
        assert len(self.replies) == 1, [(r.status, r.body[:80]) for r in self.replies]
        return self.replies[0]


def exchange(port: int, data: bytes, *, wait: float = 2.0, host: str = "127.0.0.1") -> Exchange:
    """Send `data` on a new connection and read until the server closes it or
    `wait` seconds pass without a byte."""
    received, closed = bytearray(), False
    with socket.create_connection((host, port), timeout=wait) as sock:
        try:
            sock.sendall(data)
        except OSError:  # the server may close while a large request is still being sent
            pass
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += chunk
    return Exchange(parse_replies(bytes(received)), closed, bytes(received))


def parse_replies(data: bytes) -> list[Reply]:
    replies = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"incomplete reply head: {data[:200]!r}")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        _version, code, *reason = status_line.split(" ", 2)
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
        reply = Reply(int(code), reason[0] if reason else "", headers, b"")  # type: ignore[arg-type]
        if (reply.header("transfer-encoding") or "").lower() == "chunked":
            body = bytearray()
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                body += rest[:size]
                rest = rest[size + 2 :]
                if size == 0:
                    break
            reply.body = bytes(body)
        else:
            length = int(reply.header("content-length") or 0)
            reply.body, rest = rest[:length], rest[length:]
        replies.append(reply)
        data = rest
    return replies


def request(method: str, path: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> bytes:
    """One well-formed HTTP/1.1 request's bytes (Host and Content-Length added)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: medic"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_request(method: str, path: str, payload: Any, headers: list[tuple[str, str]] | None = None) -> bytes:
    return request(method, path, [("Content-Type", "application/json"), *(headers or [])], json.dumps(payload).encode())


def chunked(body: bytes, size: int = 4096) -> bytes:
    """`body` in chunked transfer coding, ending with the last chunk."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def wait_for_port(port: int, timeout: float = 30, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listening on {host}:{port}"
            time.sleep(0.05)
