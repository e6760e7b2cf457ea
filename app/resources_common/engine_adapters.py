"""What the action engine needs from environment resources, in the engine's own types
(`app.actions.targets`); `app.wiring` registers them.

Every function works by id in short queries: nothing here holds ORM objects for the
engine across an SSH run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.targets import ResourceScope, ScopeResolver, ServerAccess, TargetResolver
from app.core.errors import Conflict
from app.core.security import SecretBox
from app.core.settings import Settings
from app.environments.models import Environment
from app.projects.models import Project
from app.resources_common.links import servers_for
from app.resources_common.registry import resource_models
from app.servers.models import Server
from app.variables.repository import deployable_variables

RESOURCE_TYPES = (
    "application",
    "cronjob",
    "daemon",
    "network-rule",
    "server",
    "service",
    "ssh-key",
    "ssl-certificate",
    "virtual-host",
)


def target_resolver(resource_type: str) -> TargetResolver:
    """`await resolver(session, resource_id)`: the ids of the servers the resource runs on."""

    async def resolve(session: AsyncSession, resource_id: int) -> Sequence[int]:
        return await servers_for(session, resource_type, resource_id)

    return resolve


def scope_resolver(resource_type: str) -> ScopeResolver:
    """`await resolver(session, resource_id)`: where the resource lives, None if it does not
    exist."""
    model = resource_models()[resource_type]

    async def resolve(session: AsyncSession, resource_id: int) -> ResourceScope | None:
        row = (
            await session.execute(
                select(model.environment_id, model.project_id, Project.organization_id)
                .join(Project, Project.id == model.project_id)
                .where(model.id == resource_id)
            )
        ).one_or_none()
        return None if row is None else ResourceScope(row[0], row[1], row[2])

    return resolve


class ServerAccessSource:
    """Connection details of a server: its address, SSH user and pinned host key, and the
    private half of its environment's key (decrypted only here, for the engine)."""

    def __init__(self, settings: Settings) -> None:
        self.box = SecretBox(settings)

    async def get_access(self, session: AsyncSession, server_id: int) -> ServerAccess | None:
        found = await self.get_accesses(session, [server_id])
        access = found.get(server_id)
        if isinstance(access, Exception):
            raise access
        return access

    async def get_accesses(
        self, session: AsyncSession, server_ids: Sequence[int]
    ) -> dict[int, ServerAccess | Exception]:
        """The access of many servers in one query (an action's targets); a server whose
        key cannot be opened gets the reason instead, absent ids no entry. Servers sharing
        their environment's key decrypt it once."""
        rows = (
            await session.execute(
                select(Server, Environment.ssh_private_key_encrypted)
                .join(Environment, Environment.id == Server.environment_id)
                .where(Server.id.in_(list(server_ids)))
            )
        ).all()
        opened: dict[bytes | str, str] = {}
        found: dict[int, ServerAccess | Exception] = {}
        for server, sealed_key in rows:
            try:
                found[server.id] = self._access(server, sealed_key, opened)
            except Conflict as exc:
                found[server.id] = exc
        return found

    def _access(
        self, server: Server, sealed_key: Any, opened: dict[Any, str]
    ) -> ServerAccess:
        server_id = server.id
        # A server whose key was rotated has its own; the others share the environment's.
        sealed_key = server.ssh_private_key_encrypted or sealed_key
        try:
            if sealed_key not in opened:
                opened[sealed_key] = self.box.decrypt(sealed_key)
            private_key = opened[sealed_key]
        except (ValueError, InvalidTag) as exc:
            # A key sealed under another SECRET_KEY (or damaged): refuse clearly, not a 500.
            raise Conflict(
                f"The SSH key of server {server_id}'s environment cannot be decrypted with "
                "this server's SECRET_KEY (was the key changed without re-encrypting?)."
            ) from exc
        return ServerAccess(
            server_id=server.id,
            # Empty until known (a cloud instance not created yet): connecting then fails
            # with that reason, while steps that need no connection can still run.
            host=server.ip_address or "",
            port=server.ssh_port,
            username=server.ssh_user,
            private_key=private_key,
            host_key=server.host_key,
            max_parallel_actions=server.max_parallel_actions,
            hostname=server.hostname,
            os_version_code=server.os_version_code,
        )

    async def pin_host_key(self, session: AsyncSession, server_id: int, host_key: str) -> None:
        """First connection wins: a key already pinned is never replaced from here."""
        await session.execute(
            update(Server)
            .where(Server.id == server_id, Server.host_key.is_(None))
            .values(host_key=host_key)
        )

    async def hidden_values(
        self, session: AsyncSession, resource_type: str, resource_id: int
    ) -> list[str]:
        """Decrypted hidden variable values of a resource, for redaction from logs."""
        variables = await deployable_variables(session, self.box, resource_type, resource_id)
        return [v.value for v in variables if v.hidden and v.value]
