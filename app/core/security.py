"""Passwords, opaque API tokens, signed access tokens and encryption of stored secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.core.settings import Settings

_hasher = PasswordHasher()

# A fixed hash to verify against when the user does not exist, so response time does not
# reveal which e-mail addresses have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))

JWT_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# The documented API token prefixes (the reference's `ApiTokenTypePrefix` followed by `_`):
# clients tell token kinds apart by them (the official MCP server accepts a personal access
# token only when it starts with `devopness_pat_`), and so do secret scanners.
PERSONAL_ACCESS_TOKEN_PREFIX = "devopness_pat_"
PROJECT_API_TOKEN_PREFIX = "devopness_proj_"
# Prefixes of tokens issued by earlier versions. Tokens are found by their hash, so these keep
# working as they are; listed for whoever needs to recognise one (log redaction).
LEGACY_TOKEN_PREFIXES = ("dvp_pat_", "dvp_prj_")


def new_token(prefix: str) -> str:
    """A high-entropy bearer secret; the prefix lets secret scanners recognise leaks."""
    return f"{prefix}{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    """Tokens are random, so a fast keyed-free digest is enough and keeps lookups indexed."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _derive_from(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode()
    )


def _derive(settings: Settings, purpose: bytes) -> bytes:
    return _derive_from(settings.secret_key, purpose)


def encode_access_token(
    settings: Settings, *, user_id: int, session_id: int, ttl: timedelta
) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires = now + ttl
    payload = {
        "sub": str(user_id),
        "sid": session_id,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "typ": "access",
        "jti": secrets.token_hex(8),
    }
    key = _derive(settings, b"jwt-signing")
    return jwt.encode(payload, key, algorithm=JWT_ALGORITHM), expires


def decode_access_token(settings: Settings, token: str) -> dict[str, Any] | None:
    key = _derive(settings, b"jwt-signing")
    try:
        payload: dict[str, Any] = jwt.decode(
            token, key, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub", "sid"]}
        )
    except jwt.PyJWTError:
        return None
    return payload if payload.get("typ") == "access" else None


def sign_server_activation(settings: Settings, server_id: int, nonce: int, expires: int) -> str:
    """A server's connect token: its id, the activation nonce it is valid for and its
    expiry (unix time), signed. Issuing one stores nothing; connecting bumps the nonce,
    which voids every token issued before (single use)."""
    payload = f"{server_id}-{nonce}-{expires}"
    key = _derive(settings, b"server-activation")
    return f"{payload}-{hmac.new(key, payload.encode(), 'sha256').hexdigest()[:40]}"


def open_server_activation(settings: Settings, token: str) -> tuple[int, int, int] | None:
    """(server id, nonce, expiry) of an authentic token, else None."""
    parts = token.split("-")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]) or len(token) > 120:
        return None
    payload = "-".join(parts[:3])
    key = _derive(settings, b"server-activation")
    expected = hmac.new(key, payload.encode(), "sha256").hexdigest()[:40]
    if not hmac.compare_digest(expected, parts[3]):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class SecretBox:
    """AES-GCM encryption for secrets at rest, keyed from SECRET_KEY via HKDF."""

    VERSION = b"v1"

    def __init__(self, settings: Settings) -> None:
        self._aead = AESGCM(_derive(settings, b"secret-storage"))
        # After a key rotation, values sealed with the previous key stay readable until
        # `reencrypt-secrets` has re-sealed them with the current one.
        self._previous = (
            AESGCM(_derive_from(settings.previous_secret_key, b"secret-storage"))
            if settings.previous_secret_key
            else None
        )

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self.VERSION)
        return (self.VERSION + b":" + base64.urlsafe_b64encode(nonce + sealed)).decode()

    def decrypt(self, token: str) -> str:
        version, _, payload = token.encode().partition(b":")
        raw = base64.urlsafe_b64decode(payload)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], version).decode()
        except InvalidTag:
            if self._previous is None:
                raise
            return self._previous.decrypt(raw[:12], raw[12:], version).decode()

    def sealed_with_current_key(self, token: str) -> bool:
        version, _, payload = token.encode().partition(b":")
        raw = base64.urlsafe_b64decode(payload)
        try:
            self._aead.decrypt(raw[:12], raw[12:], version)
        except InvalidTag:
            return False
        return True


def key_fingerprint(settings: Settings) -> str:
    """Identifies the SECRET_KEY without revealing it (backups record which key they need)."""
    return _derive(settings, b"key-fingerprint").hex()[:16]
