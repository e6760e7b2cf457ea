"""Checks that an incoming request was signed with the hook's secret.

`sha256`/`sha1`/`sha512`: an HMAC of the raw body, hex, optionally prefixed with the
algorithm (`sha256=...`, as GitHub's X-Hub-Signature-256 sends it). `token`: the header
carries the secret itself (GitLab's X-Gitlab-Token).
"""

from __future__ import annotations

import hashlib
import hmac

DEFAULT_HEADERS = {
    "sha256": "X-Hub-Signature-256",
    "sha1": "X-Hub-Signature",
    "sha512": "X-Hub-Signature-512",
    "token": "X-Gitlab-Token",
}


def header_name(algorithm: str, configured: str | None) -> str:
    return configured or DEFAULT_HEADERS[algorithm]


def sign(algorithm: str, secret: str, body: bytes) -> str:
    """The header value a sender computes: what outgoing hooks send, what tests send."""
    if algorithm == "token":
        return secret
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return f"{algorithm}={digest}"


def verify(algorithm: str, secret: str, body: bytes, presented: str | None) -> bool:
    if not presented:
        return False
    if algorithm == "token":
        return hmac.compare_digest(presented.encode(), secret.encode())
    value = presented.strip()
    prefix = f"{algorithm}="
    if value.lower().startswith(prefix):
        value = value[len(prefix):]
    expected = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return hmac.compare_digest(value.lower().encode(), expected.encode())
