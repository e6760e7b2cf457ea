"""Servers: the machines an environment's resources run on and actions connect to."""

from __future__ import annotations

import shlex

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict, ValidationFailed
from app.resources_common import links
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_resources_by_type,
)
from app.servers.models import CloudServiceCode, Server, ServerStatus
from app.servers.repository import ServerRepository
from app.servers.schemas import ServerCommand, ServerEnvironmentCreate, ServerUpdate

LABEL = "Server"


class ServerService(EnvironmentResourceService[Server]):
    label = LABEL
    resource_type = "server"

    def __init__(self, session: AsyncSession) -> None:
        self.servers = ServerRepository(session)
        super().__init__(session, self.servers)

    async def create(
        self, principal: Principal, environment_id: int, data: ServerEnvironmentCreate
    ) -> Server:
        environment = await self.environment_for_create(principal, environment_id)
        if data.provision_input.cloud_service_code is not CloudServiceCode.SELF_HOSTED_CUSTOM:
            raise ValidationFailed.field(
                "provision_input.cloud_service_code",
                "This server adds existing machines only (self-hosted-custom); cloud "
                "provisioning is not available.",
            )
        if await self.servers.hostname_taken(environment_id, data.hostname):
            raise ValidationFailed.field("hostname", "The hostname has already been taken.")
        linked = await linked_resources_by_type(
            self.session, environment_id, data.linked_resources
        )
        settings = data.provision_input.settings
        server = Server(
            environment_id=environment_id,
            project_id=environment.project_id,
            created_by=principal.user_id,
            name=data.hostname,
            hostname=data.hostname,
            cloud_service_code=data.provision_input.cloud_service_code,
            ip_address=data.ip_address,
            ssh_port=data.ssh_port or 22,
            ssh_user=data.ssh_user,
            max_parallel_actions=data.max_parallel_actions,
            os_version_code=settings.get("os_version_code"),
            status=ServerStatus.PENDING,
            active=True,
            credential_id=_credential_id(data.credential_id),
            blueprint_services=[s.model_dump(mode="json") for s in data.blueprint],
            provision_input=data.provision_input.model_dump(mode="json", exclude_none=True),
        )
        await self.servers.add(server)
        for resource_type, ids in linked.items():
            for resource_id in ids:
                await links.link_servers(self.session, resource_type, resource_id, [server.id])
        return await self.created(server)

    async def update(self, principal: Principal, server_id: int, data: ServerUpdate) -> Server:
        check_body_id(data.id, server_id)
        server = await self.get(principal, server_id, "update")
        fields = data.model_fields_set
        if "ip_address" in fields:
            if data.ip_address is None:
                raise ValidationFailed.field("ip_address", "The ip address cannot be empty.")
            server.ip_address = data.ip_address
        if "ssh_port" in fields and data.ssh_port is not None:
            server.ssh_port = data.ssh_port
        if "max_parallel_actions" in fields and data.max_parallel_actions is not None:
            server.max_parallel_actions = data.max_parallel_actions
        if "ssh_user" in fields and data.ssh_user is not None:
            server.ssh_user = data.ssh_user
        if "credential_id" in fields:
            server.credential_id = _credential_id(data.credential_id)
        await self.session.flush()
        return server

    async def check_delete(self, resource: Server) -> None:
        dependents = await links.resources_on_server(self.session, resource.id)
        if dependents:
            listed = ", ".join(f"{n} {t}" for t, n in sorted(dependents.items()))
            raise Conflict(
                f"The server cannot be deleted while resources run on it ({listed}); "
                "unlink or delete them first."
            )

    async def commands(self, principal: Principal, server_id: int) -> ServerCommand:
        """A shell command that authorises the environment's SSH key for the server's SSH
        user: run on the machine, it lets actions log in."""
        server = await self.get(principal, server_id)
        public_key = server.environment.ssh_public_key.strip()
        home = "/root" if server.ssh_user == "root" else f"/home/{server.ssh_user}"
        ssh_dir = f"{home}/.ssh"
        keys = f"{ssh_dir}/authorized_keys"
        command = (
            f"mkdir -p {ssh_dir} && chmod 700 {ssh_dir} && touch {keys} && "
            f"chmod 600 {keys} && (grep -qxF {shlex.quote(public_key)} {keys} || "
            f"echo {shlex.quote(public_key)} >> {keys}) && "
            f"chown -R {server.ssh_user}: {ssh_dir}"
        )
        return ServerCommand(connect_command=command)


def _credential_id(value: int | str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed.field(
            "credential_id", "The credential id must be a number."
        ) from None
