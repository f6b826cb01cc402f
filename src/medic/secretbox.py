"""Encryption of the secrets stored with route targets (docs/routing.md, "Secrets").

Secrets given as values (a PagerDuty routing key, a webhook secret, an Apprise URL)
are stored as a Fernet token made with MEDIC_SECRET_KEY: one or more Fernet keys,
comma-separated, the first encrypting and every one decrypting (key rotation).
Without the key, only secrets named by environment variable ({"env": "NAME"}) can
be stored; nothing is ever stored in clear.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretKeyMissing(Exception):
    """A secret value was given but MEDIC_SECRET_KEY is not set."""


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the keys in MEDIC_SECRET_KEY."""


def parse_keys(value: str) -> MultiFernet:
    """MultiFernet of the comma-separated keys; ValueError without naming a key."""
    keys = [part.strip() for part in value.split(",") if part.strip()]
    if not keys:
        raise ValueError("must hold at least one Fernet key")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        raise ValueError(
            "each key must be a Fernet key (32 url-safe base64-encoded bytes), e.g. "
            "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None


class SecretBox:
    def __init__(self, keys: str | None) -> None:
        self._fernet = parse_keys(keys) if keys else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def seal(self, values: dict[str, str]) -> str:
        if self._fernet is None:
            raise SecretKeyMissing()
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode()).decode("ascii")

    def open(self, token: str) -> dict[str, str]:
        if self._fernet is None:
            raise SecretUnreadable("MEDIC_SECRET_KEY is not set")
        try:
            return json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError):
            raise SecretUnreadable("stored secret does not decrypt with MEDIC_SECRET_KEY") from None
