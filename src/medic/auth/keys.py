"""API key material: generation, parsing, hashing and constant-time verification.

A key looks like ``medic_<public id>_<secret>``. The public id (12 hex characters)
is stored in clear and is the lookup key, so authenticating is one indexed read, never
a scan over all keys. Only a SHA-256 digest of the secret is stored. The secret has
256 bits of entropy, so a fast hash is enough: there is nothing to brute-force, and a
slow password hash would only cost CPU on every heartbeat.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "medic_"
PUBLIC_ID_BYTES = 6
SECRET_BYTES = 32
MAX_KEY_LENGTH = 256  # longer "keys" are rejected before any hashing
_KEY = re.compile(r"^medic_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})$")


@dataclass(frozen=True)
class NewKey:
    key: str  # shown once, never stored
    public_id: str
    secret_hash: str

    def __repr__(self) -> str:  # keep the secret out of tracebacks and debug logs
        return f"NewKey(public_id={self.public_id!r})"


def generate() -> NewKey:
    public_id = secrets.token_hex(PUBLIC_ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewKey(key=f"{PREFIX}{public_id}_{secret}", public_id=public_id, secret_hash=hash_secret(secret))


def parse(key: str) -> tuple[str, str] | None:
    """(public id, secret) of a well-formed key, else None."""
    if len(key) > MAX_KEY_LENGTH:
        return None
    match = _KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def verify(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time equality for a configured secret (compares digests, so lengths do not leak)."""
    return hmac.compare_digest(hash_secret(presented), hash_secret(expected))
