"""Constants and helpers shared by the security tests (imported, unlike conftest)."""

from __future__ import annotations

import secrets

ADMIN_KEY = "test-admin-" + secrets.token_hex(16)
REQUIRED = {"MEDIC_AUTH": "required", "MEDIC_ADMIN_API_KEY": ADMIN_KEY}
SUMMARY: list[str] = []  # lines for the end of the pytest run (the fuzzing figures)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
