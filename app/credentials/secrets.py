"""Credential settings at rest: one JSON object sealed with SecretBox."""

from __future__ import annotations

import json

from app.core.security import SecretBox


def seal(box: SecretBox, values: dict[str, str]) -> str:
    return box.encrypt(json.dumps(values, sort_keys=True))


def unseal(box: SecretBox, sealed: str) -> dict[str, str]:
    values: dict[str, str] = json.loads(box.decrypt(sealed))
    return values
