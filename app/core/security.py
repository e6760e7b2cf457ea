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


def new_token(prefix: str) -> str:
    """A high-entropy bearer secret; the prefix lets secret scanners recognise leaks."""
    return f"{prefix}{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    """Tokens are random, so a fast keyed-free digest is enough and keeps lookups indexed."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _derive(settings: Settings, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        settings.secret_key.encode()
    )


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


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class SecretBox:
    """AES-GCM encryption for secrets at rest, keyed from SECRET_KEY via HKDF."""

    VERSION = b"v1"

    def __init__(self, settings: Settings) -> None:
        self._aead = AESGCM(_derive(settings, b"secret-storage"))

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self.VERSION)
        return (self.VERSION + b":" + base64.urlsafe_b64encode(nonce + sealed)).decode()

    def decrypt(self, token: str) -> str:
        version, _, payload = token.encode().partition(b":")
        raw = base64.urlsafe_b64decode(payload)
        return self._aead.decrypt(raw[:12], raw[12:], version).decode()


def key_fingerprint(settings: Settings) -> str:
    """Identifies the SECRET_KEY without revealing it (backups record which key they need)."""
    return _derive(settings, b"key-fingerprint").hex()[:16]
