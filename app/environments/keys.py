"""Each environment's own SSH key pair, used by the action engine to reach its servers."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.security import SecretBox


@dataclass(frozen=True)
class SealedKeyPair:
    public_key: str
    private_key_encrypted: str


def new_environment_key(box: SecretBox, comment: str) -> SealedKeyPair:
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return SealedKeyPair(f"{public} {comment}", box.encrypt(private_pem))


def open_environment_key(box: SecretBox, private_key_encrypted: str) -> str:
    """The OpenSSH private key (PEM) for the engine; never for an API response."""
    return box.decrypt(private_key_encrypted)
