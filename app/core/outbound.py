"""The one policy for connections the control plane opens on a user's behalf.

Hooks, repository URLs, a credential's token URL and a server's SSH address are chosen by
users; without a policy they turn the control plane into a proxy into its own network
(loopback services, the cloud metadata endpoint at 169.254.169.254, private ranges).
Every such connection goes through here:

- the host is resolved once and every address it resolves to must be public (not
  loopback, link-local, private, shared, unspecified, multicast or reserved, also when
  an IPv4 address hides inside an IPv6 one: IPv4-mapped, 6to4, Teredo, NAT64);
- the connection goes to the address that was checked: no second resolution for a name
  whose answer could change in between (DNS rebinding);
- an operator who runs servers on a private network turns the check off for unicast
  addresses with OUTBOUND_ALLOW_PRIVATE_NETWORKS (the test suite does, for loopback).

Endpoints the operator configures (provider API URLs in settings) are the operator's
trust and do not pass through here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from app.core.settings import Settings, get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MASK = "********"
# How much of an answer to a user-directed request is kept (hook requests).
MAX_SUMMARY_BYTES = 4096
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SPECIAL_NAMES = ("localhost", "localhost.localdomain")
_SCP_LIKE = re.compile(r"^[^@/\s]+@(\[[^\]]+\]|[^:/\s]+):")

_configured: Settings | None = None


class OutboundRefused(ValueError):
    """The policy refuses this destination; nothing was sent to it. A ValueError, so that
    request validators report it as the field's error."""


class Unresolvable(OutboundRefused):
    """The name has no address (here): nothing can be sent to it."""


def configure(settings: Settings) -> None:
    """Remember the process's settings, for checks that run where no settings are passed
    (request body validation); called when the API or a worker starts."""
    global _configured
    _configured = settings


def current_settings() -> Settings:
    return _configured or get_settings()


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, settings: Settings) -> str | None:
    """Why the policy refuses this address, or None when it may be reached."""
    if address.is_unspecified or address.is_multicast:
        return "not a host address"
    if settings.outbound_allow_private_networks:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal(embedded, settings)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_reserved:
        return "a reserved address"
    return None


def _refuse(host: str, address: IPAddress, reason: str) -> OutboundRefused:
    shown = host if host == str(address) else f"{host} ({address})"
    return OutboundRefused(
        f"{shown} is {reason}: the control plane does not connect to internal addresses "
        "(an operator allows private networks with OUTBOUND_ALLOW_PRIVATE_NETWORKS)."
    )


def _bare(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _numeric(host: str) -> IPAddress | None:
    """The address a literal stands for, in any form the resolver accepts (`127.1`,
    `2130706433`, `0x7f.0.0.1`), without asking DNS."""
    try:
        infos = socket.getaddrinfo(_bare(host), None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0])


def check_host(host: str, settings: Settings | None = None) -> None:
    """What can be told without DNS (request validation): an address literal, or a name
    that always means this machine. Names are checked again, resolved, at connection."""
    settings = settings or current_settings()
    if not host:
        raise OutboundRefused("The address has no host.")
    address = _numeric(host)
    if address is not None:
        reason = refusal(address, settings)
        if reason:
            raise _refuse(host, address, reason)
        return
    name = host.lower().rstrip(".")
    if not settings.outbound_allow_private_networks and (
        name in _SPECIAL_NAMES or name.endswith(".localhost")
    ):
        raise OutboundRefused(
            f"{host} names this machine: the control plane does not connect to internal "
            "addresses (an operator allows private networks with "
            "OUTBOUND_ALLOW_PRIVATE_NETWORKS)."
        )


def url_host(url: str) -> str:
    """The host of a URL, or of an scp-like git address (`git@host:path`); "" for none."""
    if "://" not in url:
        scp = _SCP_LIKE.match(url)
        return _bare(scp.group(1)) if scp else ""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def check_url_host(url: str, settings: Settings | None = None) -> str:
    """`check_host` for a URL that may name no host (a git path on the server itself);
    returns the URL, for validators."""
    host = url_host(url)
    if host:
        check_host(host, settings)
    return url


def check_url(url: str, settings: Settings | None = None) -> None:
    """`check_host` for a URL's host."""
    check_host(url_host(url), settings)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _checked(host: str, infos: Sequence[Any], settings: Settings) -> list[str]:
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve to an address.")
    # Every answer must pass: a name with one public and one internal address is refused,
    # whichever the connection would have used.
    for address in addresses:
        reason = refusal(address, settings)
        if reason:
            raise _refuse(host, address, reason)
    return [str(address) for address in addresses]


async def resolve(host: str, port: int, settings: Settings) -> list[str]:
    """Resolve `host` once and return the checked addresses to connect to (in the
    resolver's order of preference)."""
    host = _bare(host)
    if _is_address(host):
        # An address resolves to itself: no trip through the loop's resolver threads
        # (an action on N servers known by address resolves N times).
        return _checked(host, [(None, None, None, None, (host, port))], settings)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"{host} cannot be resolved ({exc}).") from exc
    return _checked(host, infos, settings)


def resolve_sync(host: str, port: int, settings: Settings) -> list[str]:
    host = _bare(host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"{host} cannot be resolved ({exc}).") from exc
    return _checked(host, infos, settings)


# ---------------------------------------------------------------------- HTTP

class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked address; TLS still names the URL's host (SNI and
    certificate check), and the Host header is the request's own."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._inner = httpcore.AnyIOBackend()

    # httpcore's interface names the parameter `timeout`.
    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None, socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(resolve(host, port, self._settings), timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        for address in addresses[:-1]:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return await self._inner.connect_tcp(
            addresses[-1], port, timeout=timeout, local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("Unix sockets are not an outbound destination.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedSyncBackend(httpcore.NetworkBackend):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_sync(host, port, self._settings)
        for address in addresses[:-1]:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return self._inner.connect_tcp(
            addresses[-1], port, timeout=timeout, local_address=local_address,
            socket_options=socket_options,
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("Unix sockets are not an outbound destination.")


class _PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, settings: Settings, verify: bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        # The pool httpx built resolves names itself: replace it by one that connects
        # through the policy (httpx exposes no network backend option).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=_PinnedBackend(settings),
        )


class _PinnedSyncTransport(httpx.HTTPTransport):
    def __init__(self, settings: Settings, verify: bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=_PinnedSyncBackend(settings),
        )


def async_client(settings: Settings, *, verify: bool = True, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client for user-directed URLs. Refused destinations raise `OutboundRefused`
    before anything is sent. No redirects (a redirect is a second destination) and no
    proxy from the environment (the proxy, not the destination, would be checked)."""
    return httpx.AsyncClient(
        transport=_PinnedTransport(settings, verify), trust_env=False,
        follow_redirects=False, **kwargs,
    )


def sync_client(settings: Settings, *, verify: bool = True, **kwargs: Any) -> httpx.Client:
    return httpx.Client(
        transport=_PinnedSyncTransport(settings, verify), trust_env=False,
        follow_redirects=False, **kwargs,
    )


# ---------------------------------------------------------------------- stored copies

def mask_secrets(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (JSON-like) with every occurrence of a known secret value masked, in keys
    and strings at any depth."""
    known = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    if not known:
        return value

    def mask(item: Any) -> Any:
        if isinstance(item, str):
            for secret in known:
                item = item.replace(secret, MASK)
            return item
        if isinstance(item, list):
            return [mask(v) for v in item]
        if isinstance(item, dict):
            return {mask(k): mask(v) for k, v in item.items()}
        return item

    return mask(value)


async def read_summary(response: httpx.Response, limit: int = MAX_SUMMARY_BYTES) -> Any:
    """At most `limit` bytes of a streamed answer: its JSON object when it is small and one,
    else its text (`truncated` says whether more was left unread)."""
    chunks: list[bytes] = []
    size = 0
    truncated = False
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            truncated = True
            break
    data = b"".join(chunks)[:limit]
    if not truncated and data:
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    summary: dict[str, Any] = {"content": data.decode("utf-8", errors="replace")}
    if truncated:
        summary["truncated"] = True
    return summary
