"""Where an action runs and how to reach it: registries filled by the resource domains.

The servers a resource runs on are known by the domain that owns the resource, so the
action engine asks through two registries instead of importing those domains:

- `register_target_resolver(resource_type, fn)`: `await fn(session, resource_id)` returns
  the ids of the servers an operation on that resource runs on (a server resolves to
  itself).
- `register_scope_resolver(resource_type, fn)`: `await fn(session, resource_id)` returns
  the resource's `ResourceScope` (environment/project) or None if it does not exist; used
  to authorize `/pipelines/{resource_type}/{resource_id}` and similar routes. Without one,
  the scope is learnt from the resource's pipelines and past actions.
- `set_server_access_provider(provider)`: a `ServerAccessProvider` tells the engine how to
  connect to a server id (`ServerAccess`) and persists its host key on first connect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

TargetResolver = Callable[[AsyncSession, int], Awaitable[Sequence[int]]]


@dataclass(frozen=True)
class ResourceScope:
    """Where a resource lives, for authorization of resource-addressed routes."""

    environment_id: int | None
    project_id: int | None
    organization_id: int | None = None


ScopeResolver = Callable[[AsyncSession, int], Awaitable[ResourceScope | None]]


@dataclass(frozen=True)
class ServerAccess:
    """Everything the engine needs to run commands on one server."""

    server_id: int
    host: str
    port: int
    username: str
    private_key: str  # PEM / OpenSSH text
    host_key: str | None = None  # pinned public host key (OpenSSH format) or None: unpinned
    max_parallel_actions: int = 0  # 0: no limit
    hostname: str | None = None
    os_version_code: str | None = None
    # Values that must never appear in logs (passwords, tokens, hidden variables).
    secrets: Sequence[str] = field(default_factory=tuple)

    def resource_data(self) -> dict[str, Any]:
        """The reference's ActionTargetServerData snapshot stored on the target."""
        return {
            "id": self.server_id,
            "hostname": self.hostname or self.host,
            "provider_name": "self-hosted",
            "provider_name_human_readable": "VPS/Self Hosted",
            "ip_address": self.host,
            "ssh_port": self.port,
            "os_version_code": self.os_version_code,
            "provision_input": {
                "cloud_service_code": "self-hosted-custom",
                "settings": {"os_version_code": self.os_version_code},
            },
        }


class ServerAccessProvider(Protocol):
    async def get_access(self, session: AsyncSession, server_id: int) -> ServerAccess | None: ...

    # Optional: `get_accesses(session, server_ids)`, the access of many servers in one query
    # (see `load_accesses`); providers without it are asked one server at a time.

    async def pin_host_key(self, session: AsyncSession, server_id: int, host_key: str) -> None:
        """Store the host key seen on the first connection (OpenSSH public key text)."""
        ...


class TargetResolutionError(Exception):
    pass


_resolvers: dict[str, TargetResolver] = {}
_scopes: dict[str, ScopeResolver] = {}
_provider: ServerAccessProvider | None = None


async def _server_itself(_session: AsyncSession, resource_id: int) -> Sequence[int]:
    return [resource_id]


def register_target_resolver(resource_type: str, resolver: TargetResolver) -> None:
    _resolvers[resource_type] = resolver


def register_scope_resolver(resource_type: str, resolver: ScopeResolver) -> None:
    """How to find the environment of a resource (None: no such resource)."""
    _scopes[resource_type] = resolver


def scope_resolver(resource_type: str) -> ScopeResolver | None:
    return _scopes.get(resource_type)


def unregister_target_resolver(resource_type: str) -> None:
    _resolvers.pop(resource_type, None)


def set_server_access_provider(provider: ServerAccessProvider | None) -> None:
    global _provider
    _provider = provider


def server_access_provider() -> ServerAccessProvider:
    if _provider is None:
        raise TargetResolutionError("No server access provider is registered.")
    return _provider


AccessResult = ServerAccess | Exception | None


async def load_accesses(
    session: AsyncSession, server_ids: Sequence[int]
) -> dict[int, AccessResult]:
    """Each server's access (None: no such server; an exception: this server's record
    cannot be used, say a key sealed under another SECRET_KEY), in one query when the
    provider can (`get_accesses`), else one server at a time."""
    provider = server_access_provider()
    many: Callable[[AsyncSession, Sequence[int]], Awaitable[dict[int, AccessResult]]] | None
    many = getattr(provider, "get_accesses", None)
    if many is not None:
        found = await many(session, list(dict.fromkeys(server_ids)))
        return {server_id: found.get(server_id) for server_id in server_ids}
    results: dict[int, AccessResult] = {}
    for server_id in dict.fromkeys(server_ids):
        try:
            results[server_id] = await provider.get_access(session, server_id)
        except Exception as exc:
            results[server_id] = exc
    return results


async def resolve_targets(
    session: AsyncSession, resource_type: str, resource_id: int
) -> list[int]:
    resolver = _resolvers.get(resource_type)
    if resolver is None:
        if resource_type != "server":
            raise TargetResolutionError(
                f"Resources of type {resource_type!r} cannot run actions on servers yet."
            )
        resolver = _server_itself
    # De-duplicated, order kept: a resource linked twice to a server runs there once.
    return list(dict.fromkeys(await resolver(session, resource_id)))


# Resources an action targets themselves (a network at its provider), not servers: their
# steps are all local. `await fn(session, resource_id)` gives the target's resource_data
# (the reference's ActionTargetNetworkData...), None when the resource does not exist.
SelfTarget = Callable[[AsyncSession, int], Awaitable[dict[str, Any] | None]]
_self_targets: dict[str, SelfTarget] = {}


def register_self_target(resource_type: str, describe: SelfTarget) -> None:
    _self_targets[resource_type] = describe


def self_target(resource_type: str) -> SelfTarget | None:
    return _self_targets.get(resource_type)
