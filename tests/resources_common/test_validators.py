from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from app.resources_common import validators as v
from tests.resource_factories import ssh_keypair


@pytest.mark.parametrize(
    "expression",
    ["* * * * *", "0 0 * * *", "*/15 9-17 * * 1-5", "0 0,12 1 */2 *", "5 4 * * sun",
     "0 0 1 jan *", "@daily", "0 0 * * 7", "1-10/2 * * * *"],
)
def test_valid_cron_expressions(expression: str) -> None:
    assert v.validate_cron(expression)


@pytest.mark.parametrize(
    "expression",
    ["", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
     "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *", "@often", "1/5 * * * *",
     ",1 * * * *"],
)
def test_invalid_cron_expressions(expression: str) -> None:
    with pytest.raises(ValueError):
        v.validate_cron(expression)


def test_cron_names_known_frequencies() -> None:
    assert v.cron_human_readable("0 0 * * *") == "Daily"
    assert v.cron_human_readable("@hourly") == "Hourly"
    assert v.cron_human_readable("5 4 * * *") == "Custom"


@pytest.mark.parametrize("name", ["example.com", "a.b.example.co.uk", "xn--bcher-kva.example"])
def test_valid_domains(name: str) -> None:
    assert v.validate_domain(name) == name


@pytest.mark.parametrize(
    "name", ["localhost", "-bad.example.com", "bad-.example.com", "exa mple.com", "a..b.com",
             "1.2.3.4", "under_score.example.com", "x" * 64 + ".com"],
)
def test_invalid_domains(name: str) -> None:
    with pytest.raises(ValueError):
        v.validate_domain(name)


def test_wildcard_domain_only_when_allowed() -> None:
    assert v.validate_domain("*.example.com", allow_wildcard=True) == "*.example.com"
    with pytest.raises(ValueError):
        v.validate_domain("*.example.com")


@pytest.mark.parametrize("value", ["10.0.0.1:0", "10.0.0.1:70000", "10.0.0.256", "host:80"])
def test_invalid_ip_with_port(value: str) -> None:
    with pytest.raises(ValueError):
        v.validate_ip_with_optional_port(value)


def test_ssh_public_key_fingerprints() -> None:
    public, _ = ssh_keypair()
    parsed = v.parse_ssh_public_key(public + " me@laptop")
    assert parsed.key_type == "ssh-ed25519"
    assert parsed.normalized == public
    assert len(parsed.fingerprint_md5.split(":")) == 16
    assert parsed.fingerprint_sha256.startswith("SHA256:")


@pytest.mark.parametrize(
    "value",
    ["", "ssh-rsa", "ssh-rsa not-base64!", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBad",
     "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"],
)
def test_invalid_ssh_public_keys(value: str) -> None:
    with pytest.raises(ValueError):
        v.parse_ssh_public_key(value)


def test_short_rsa_keys_are_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    with pytest.raises(ValueError, match="2048"):
        v.parse_ssh_public_key(public)


def make_certificate(host: str, key: ec.EllipticCurvePrivateKey | None = None
                     ) -> tuple[str, str]:
    """A self-signed certificate for `host` and its private key, both PEM."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert_pem, key_pem


def test_certificate_and_matching_key() -> None:
    cert, key = make_certificate("shop.example.com")
    assert v.check_certificate_and_key(cert, key).not_valid_after_utc > datetime.now(UTC)


def test_certificate_with_another_key_is_refused() -> None:
    cert, _ = make_certificate("shop.example.com")
    _, other_key = make_certificate("shop.example.com")
    with pytest.raises(v.PemKeyError, match="does not match"):
        v.check_certificate_and_key(cert, other_key)


def test_garbage_certificate_and_key() -> None:
    cert, key = make_certificate("shop.example.com")
    with pytest.raises(ValueError, match="certificate"):
        v.check_certificate_and_key("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----",
                                    key)
    with pytest.raises(v.PemKeyError):
        v.check_certificate_and_key(cert, "not a key")
