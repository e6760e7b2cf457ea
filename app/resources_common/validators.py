"""Field rules shared by resource schemas: each returns the normalised value or raises
ValueError with the sentence a client sees (pydantic turns it into a 422 field error)."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

# --- text that ends up in a configuration file or a command line ---------------------

# C0 controls (newline, carriage return, NUL, escape...), DEL and C1 controls, and the
# Unicode line and paragraph separators some parsers also end a line at.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def refuse_control_characters(value: str) -> str:
    """One line of plain text: a newline in a path, a name or a command would start a new
    line (a new directive, unit setting or crontab entry) in whatever file it is written to."""
    found = CONTROL_CHARACTERS.search(value)
    if found:
        raise ValueError(
            f"must not contain control characters such as line breaks (found {found.group()!r})"
        )
    return value


# --- cron expressions ---------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}

# (name, lowest, highest, names) for minute, hour, day of month, month, day of week.
_CRON_FIELDS: list[tuple[str, int, int, dict[str, int]]] = [
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),  # 7 is Sunday too, as in Vixie cron
]

CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# The reference's named frequencies (CronJobPattern) and the expression each stands for.
CRON_FREQUENCIES: list[tuple[str, str]] = [
    ("* * * * *", "Every minute"),
    ("0 * * * *", "Hourly"),
    ("0 0 * * *", "Daily"),
    ("0 0,12 * * *", "Twice a day"),
    ("0 0 * * 0", "Weekly"),
    ("0 0 1 * *", "Monthly"),
    ("0 0 1 1 *", "Yearly"),
]


def _cron_value(token: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(token.lower()) if names else None
    if value is None:
        if not token.isdigit():
            raise ValueError(f"'{token}' is not a valid {field} value")
        value = int(token)
    if not low <= value <= high:
        raise ValueError(f"the {field} value {value} is outside {low}-{high}")
    return value


def _cron_field(expr: str, low: int, high: int, names: dict[str, int], field: str) -> None:
    for part in expr.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"'{part}' has an invalid step in the {field} field")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        if not start:
            raise ValueError(f"'{part}' is not a valid {field} value")
        first = _cron_value(start, low, high, names, field)
        if dash:
            last = _cron_value(end, low, high, names, field)
            if last < first:
                raise ValueError(f"the {field} range '{base}' runs backwards")
        elif slash:
            raise ValueError(f"a step needs '*' or a range in the {field} field, not '{part}'")


def validate_cron(expression: str) -> str:
    """A five-field cron expression (or an @macro); returned with single spaces."""
    text = " ".join(expression.split())
    if text.lower() in CRON_MACROS:
        return text.lower()
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(
            "a cron expression has 5 fields: minute, hour, day of month, month and day of week"
        )
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        _cron_field(value, low, high, names, name)
    return text


def cron_human_readable(expression: str) -> str:
    normalised = CRON_MACROS.get(expression, expression)
    for pattern, label in CRON_FREQUENCIES:
        if normalised == pattern:
            return label
    return "Custom"


# --- names, addresses, ports --------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_HOSTNAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")


def validate_domain(value: str, *, allow_wildcard: bool = False) -> str:
    """A fully qualified domain name such as `app.example.com` (lower-cased)."""
    name = value.strip().lower().rstrip(".")
    labels = name.split(".")
    if allow_wildcard and labels and labels[0] == "*":
        labels = labels[1:]
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"'{value}' is not a valid domain name")
    if labels[-1].isdigit():
        raise ValueError(f"'{value}' is not a valid domain name")
    return name


def validate_hostname(value: str) -> str:
    """A Linux hostname: lower-case letters, digits and dashes, at most 60 characters."""
    if not _HOSTNAME.match(value):
        raise ValueError(
            "must contain only lower case letters, numbers and dashes, and start and end "
            "with a letter or number"
        )
    return value


def validate_ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IPv4 address") from None


def validate_ip_with_optional_port(value: str) -> str:
    host, colon, port = value.partition(":")
    address = validate_ipv4(host)
    if colon:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"'{port}' is not a valid port (1-65535)")
        return f"{address}:{int(port)}"
    return address


def validate_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"'{value}' is not a valid CIDR block such as 10.0.0.0/24") from None


_LISTEN_ADDRESS = re.compile(
    r"^(?:unix:/\S+|https?://(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::\d{1,5})?(?:/\S*)?)$"
)


def validate_listen_address(value: str) -> str:
    if not _LISTEN_ADDRESS.match(value):
        raise ValueError(
            "must be an http(s) URL such as http://127.0.0.1:8080 or a unix: socket path"
        )
    port = re.search(r"://[^/]+:(\d+)", value)
    if port and not 1 <= int(port.group(1)) <= 65535:
        raise ValueError(f"'{port.group(1)}' is not a valid port (1-65535)")
    return value


def validate_absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with /")
    return value


def validate_relative_path(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError("must be a relative path inside the application directory")
    return value


# --- SSH public keys ----------------------------------------------------------------

@dataclass(frozen=True)
class SshPublicKey:
    key_type: str
    normalized: str  # "<type> <base64>" without the comment
    fingerprint_md5: str  # aa:bb:... (what the reference shows)
    fingerprint_sha256: str  # SHA256:... (what OpenSSH shows today)


def parse_ssh_public_key(value: str) -> SshPublicKey:
    """Parse an OpenSSH public key line; private keys and junk are refused."""
    text = value.strip()
    if "PRIVATE KEY" in text:
        raise ValueError("this is a private key; paste the public key (the .pub file)")
    parts = text.split()
    if len(parts) < 2:
        raise ValueError("must be an OpenSSH public key such as 'ssh-ed25519 AAAA... comment'")
    key_type, blob_b64 = parts[0], parts[1]
    try:
        blob = base64.b64decode(blob_b64, validate=True)
        key = serialization.load_ssh_public_key(f"{key_type} {blob_b64}".encode())
    except (ValueError, TypeError, base64.binascii.Error):  # type: ignore[attr-defined]
        raise ValueError("is not a valid OpenSSH public key") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise ValueError("RSA keys must be at least 2048 bits")
    if not isinstance(
        key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey
        | dsa.DSAPublicKey,
    ):
        raise ValueError("uses an unsupported key type")
    md5 = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    sha = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return SshPublicKey(
        key_type=key_type,
        normalized=f"{key_type} {blob_b64}",
        fingerprint_md5=":".join(md5[i : i + 2] for i in range(0, 32, 2)),
        fingerprint_sha256=f"SHA256:{sha}",
    )


# --- PEM certificate and key --------------------------------------------------------

def _public_bytes(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_pem_certificate(value: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(value.strip().encode())
    except ValueError:
        raise ValueError("is not a PEM encoded X.509 certificate") from None


def check_certificate_and_key(certificate_pem: str, private_key_pem: str) -> x509.Certificate:
    """The certificate parses, the key parses (unencrypted) and the two belong together.

    A problem with the key raises PemKeyError, one with the certificate ValueError, so
    callers can name the right field.
    """
    certificate = load_pem_certificate(certificate_pem)
    try:
        key = serialization.load_pem_private_key(private_key_pem.strip().encode(), password=None)
    except TypeError:
        raise PemKeyError("is encrypted; provide the key without a passphrase") from None
    except ValueError:
        raise PemKeyError("is not a PEM encoded private key") from None
    if _public_bytes(key.public_key()) != _public_bytes(certificate.public_key()):
        raise PemKeyError("does not match the certificate's public key")
    return certificate


class PemKeyError(ValueError):
    """The private key is the problem (not the certificate)."""
