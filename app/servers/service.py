"""Servers: the machines an environment's resources run on and actions connect to."""

from __future__ import annotations

import shlex

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.actions.start import start_action
from app.catalogue import service as catalogue_data
from app.cloud.providers import is_cloud
from app.core.database import utcnow
from app.core.errors import Conflict, Forbidden, Unauthenticated, ValidationFailed
from app.core.security import open_server_activation, sign_server_activation
from app.core.settings import Settings
from app.environments.models import Environment
from app.networks.models import Network, Subnet
from app.resources_common import links
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_resources_by_type,
    ownership,
    remove_resource,
)
from app.servers.models import CloudServiceCode, Server, ServerStatus
from app.servers.repository import ServerRepository
from app.servers.schemas import ServerCommand, ServerEnvironmentCreate, ServerUpdate
from app.static_options.catalog import OS_VERSIONS

LABEL = "Server"


class ServerService(EnvironmentResourceService[Server]):
    label = LABEL
    resource_type = "server"

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.servers = ServerRepository(session)
        self.settings = settings
        self.last_action_id: int | None = None
        super().__init__(session, self.servers)

    async def create(
        self, principal: Principal, environment_id: int, data: ServerEnvironmentCreate
    ) -> Server:
        environment = await self.environment_for_create(principal, environment_id)
        code = str(data.provision_input.cloud_service_code)
        if is_cloud(code):
            return await self._create_cloud(principal, environment, data)
        if await self.servers.hostname_taken(environment_id, data.hostname):
            raise ValidationFailed.field("hostname", "The hostname has already been taken.")
        linked = await linked_resources_by_type(
            self.session, environment_id, data.linked_resources, principal
        )
        credential_id = _credential_id(data.credential_id)
        if credential_id is not None:
            await self.access.credential(principal, credential_id, environment_id=environment_id)
        settings = data.provision_input.settings
        server = Server(
            **ownership(environment, principal),
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
            credential_id=credential_id,
            blueprint_services=[s.model_dump(mode="json") for s in data.blueprint],
            provision_input=data.provision_input.model_dump(mode="json", exclude_none=True),
        )
        await self.servers.add(server)
        await self._link(server, linked)
        return await self.created(server)

    async def _link(self, server: Server, linked: dict[str, list[int]]) -> None:
        for resource_type, ids in linked.items():
            for resource_id in ids:
                await links.link_servers(self.session, resource_type, resource_id, [server.id])

    async def _create_cloud(
        self, principal: Principal, environment: Environment, data: ServerEnvironmentCreate
    ) -> Server:
        """A server the provider creates: the record first (no address yet), then the
        provision action that creates the instance, waits for it and provisions it. Its
        id is in `self.last_action_id` for the response header."""
        code = str(data.provision_input.cloud_service_code)
        environment_id = environment.id
        if data.credential_id in (None, ""):
            raise ValidationFailed.field(
                "credential_id", "A cloud server needs the credential of its provider."
            )
        credential_id = _credential_id(data.credential_id)
        assert credential_id is not None
        credential = await self.access.credential(
            principal, credential_id, environment_id=environment_id, cloud_service_code=code,
            active=True,
        )
        settings = dict(data.provision_input.settings)
        field = "provision_input.settings"
        region = str(settings.get("region") or "")
        if region not in catalogue_data.region_codes(code):
            raise ValidationFailed.field(f"{field}.region", "The selected region is invalid.")
        offered = catalogue_data.instances(code, region)
        types = {str(i.get("type") or i.get("name")) for i in offered}
        if str(settings.get("instance_type") or "") not in types:
            raise ValidationFailed.field(
                f"{field}.instance_type", "The selected instance type is invalid."
            )
        storage = settings.get("storage_size")
        if not isinstance(storage, int) or isinstance(storage, bool) or not 8 <= storage <= 16384:
            raise ValidationFailed.field(
                f"{field}.storage_size", "The storage size must be a number of GB (8-16384)."
            )
        if str(settings.get("os_version_code") or "") not in OS_VERSIONS:
            raise ValidationFailed.field(
                f"{field}.os_version_code", "The selected os version code is invalid."
            )
        if data.provision_input.subnet_id is not None:
            await self._check_subnet(
                principal, environment_id, code, data.provision_input.subnet_id
            )
        if await self.servers.hostname_taken(environment_id, data.hostname):
            raise ValidationFailed.field("hostname", "The hostname has already been taken.")
        linked = await linked_resources_by_type(
            self.session, environment_id, data.linked_resources, principal
        )
        server = Server(
            **ownership(environment, principal),
            name=data.hostname,
            hostname=data.hostname,
            cloud_service_code=code,
            ip_address=None,
            # A custom image may serve SSH elsewhere; the SSH user is the one the instance
            # authorises the key for at boot (Azure refuses root as its admin user).
            ssh_port=data.ssh_port or 22,
            ssh_user=(
                "devopness"
                if code == CloudServiceCode.AZURE_RM and data.ssh_user == "root"
                else data.ssh_user
            ),
            max_parallel_actions=data.max_parallel_actions,
            os_version_code=str(settings["os_version_code"]),
            region=region,
            status=ServerStatus.PROVISIONING,
            active=True,
            credential_id=credential.id,
            blueprint_services=[s.model_dump(mode="json") for s in data.blueprint],
            provision_input=data.provision_input.model_dump(mode="json", exclude_none=True),
        )
        await self.servers.add(server)
        await self._link(server, linked)
        created = await self.created(server)
        action = await start_action(
            self.session, resource_type="server", resource_id=server.id, operation="provision",
            triggered_by=principal, project_id=server.project_id,
            environment_id=environment_id,
        )
        self.last_action_id = action.id
        return created

    async def _check_subnet(
        self, principal: Principal, environment_id: int, code: str, subnet_id: int
    ) -> None:
        field = "provision_input.subnet_id"
        await self.access.reference(
            principal, "subnet", subnet_id, field=field, environment_id=environment_id
        )
        network_code = await self.session.scalar(
            select(Network.cloud_service_code)
            .join(Subnet, Subnet.network_id == Network.id)
            .where(Subnet.id == subnet_id)
        )
        if network_code != code:
            raise ValidationFailed.field(field, f"The subnet is not a {code} subnet.")

    async def delete_server(
        self, principal: Principal, server_id: int, *, destroy_disks: bool
    ) -> int | None:
        """Self-hosted: a server that was never connected goes at once; a connected one
        goes when its delete action has taken the keys this product authorised (and no
        other record uses) out of authorized_keys. Cloud: a delete action destroys the
        instance (and its disks when asked) and removes the record once the provider
        confirms; on failure the record stays, so nothing is left at the provider
        unrecorded."""
        server = await self.get(principal, server_id, "delete")
        await self.check_delete(server)
        if not is_cloud(server.cloud_service_code) and server.host_key is None:
            await remove_resource(self.session, server)
            return None
        action = await start_action(
            self.session, resource_type="server", resource_id=server.id, operation="delete",
            triggered_by=principal, project_id=server.project_id,
            environment_id=server.environment_id,
            action_data={"destroy_disks": destroy_disks},
        )
        return action.id

    async def update(self, principal: Principal, server_id: int, data: ServerUpdate) -> Server:
        """Address changes keep the pinned host key: a different machine at the new
        address is refused at the first connection, before any step (or secret) is sent.
        Only the connect command re-pins (see `commands`)."""
        check_body_id(data.id, server_id)
        server = await self.get(principal, server_id, "update")
        fields = data.model_fields_set
        if "credential_id" in fields:
            server.credential_id = await self._credential_for(
                principal, server, _credential_id(data.credential_id)
            )
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
        await self.session.flush()
        return server

    async def _credential_for(
        self, principal: Principal, server: Server, credential_id: int | None
    ) -> int | None:
        """The credential a server may use: usable in its environment and readable by the
        caller; a cloud server needs an active one of its own cloud service."""
        cloud = is_cloud(server.cloud_service_code)
        if credential_id is None:
            if cloud:
                raise ValidationFailed.field(
                    "credential_id", "A cloud server needs the credential of its provider."
                )
            return None
        credential = await self.access.credential(
            principal, credential_id, environment_id=server.environment_id,
            cloud_service_code=server.cloud_service_code if cloud else None, active=cloud,
        )
        return credential.id

    async def check_delete(self, resource: Server) -> None:
        dependents = await links.resources_on_server(self.session, resource.id)
        if dependents:
            listed = ", ".join(f"{n} {t}" for t, n in sorted(dependents.items()))
            raise Conflict(
                f"The server cannot be deleted while resources run on it ({listed}); "
                "unlink or delete them first."
            )

    async def commands(
        self, principal: Principal, server_id: int, callback_base: str
    ) -> ServerCommand:
        """The one-line command a user runs on the machine (as root, or as the user actions
        should log in as): it authorises the server's SSH key for a dedicated `devopness`
        user (root runs) or the current user, then calls back `connectServer` with a signed
        token that expires and works once. Reading the command changes nothing."""
        server = await self.get(principal, server_id, "update")
        if server.host_key is not None:
            # Re-connecting trusts a possibly different machine with everything deployed to
            # this server: the rights to remove this server and add another one.
            environment = await self.access.environment(
                principal, server.environment_id, self.permission("update")
            )
            permissions = set(environment.current_user_permissions)
            if not {self.permission("create"), self.permission("delete")} <= permissions:
                raise Forbidden(
                    "The server is connected: re-connecting it (possibly to another machine) "
                    "needs the server:create and server:delete permissions."
                )
        expires = int(utcnow().timestamp()) + self.settings.server_activation_ttl_seconds
        token = sign_server_activation(
            self.settings, server.id, server.activation_nonce, expires
        )
        public_key = (server.ssh_public_key or server.environment.ssh_public_key).strip()
        callback = f"{callback_base.rstrip('/')}/servers/{server.id}/connect/{token}"
        return ServerCommand(connect_command=connect_command(public_key, callback))

    async def connect(self, server_id: int, token: str, ssh_user: str | None) -> int:
        """The machine called back: check the token, then start the action that verifies
        SSH access (pinning the host key, reading the OS) and provisions."""
        claims = open_server_activation(self.settings, token)
        if claims is None or claims[0] != server_id:
            raise Unauthenticated("The activation token is invalid.")
        _, nonce, expires = claims
        if expires < int(utcnow().timestamp()):
            raise Unauthenticated(
                "The activation token has expired: get a new command from "
                f"GET /servers/{server_id}/commands."
            )
        # One conditional update: of two calls with the same token, one wins.
        won = await self.session.execute(
            update(Server)
            .where(Server.id == server_id, Server.activation_nonce == nonce)
            .values(activation_nonce=nonce + 1)
            .execution_options(synchronize_session=False)
        )
        if not won.rowcount:  # type: ignore[attr-defined]
            raise Unauthenticated("The activation token was already used.")
        server = await self.session.get(Server, server_id, populate_existing=True)
        assert server is not None
        if ssh_user is not None:
            server.ssh_user = ssh_user
        # Whatever was pinned before belongs to an earlier install of this machine.
        server.host_key = None
        server.status = ServerStatus.PROVISIONING
        await self.session.flush()
        action = await start_action(
            self.session,
            resource_type="server",
            resource_id=server.id,
            operation="provision",
            triggered_by=None,
            triggered_from="system",
            project_id=server.project_id,
            environment_id=server.environment_id,
            trigger_comment="Connected by the server's connect command",
        )
        return action.id


def connect_command(public_key: str, callback_url: str) -> str:
    """POSIX sh, one line. Run as root it creates the `devopness` user with passwordless
    sudo (provisioning installs packages); run as anyone else, that user is used."""
    script = (
        "set -e; K=" + shlex.quote(public_key) + "; "
        'if [ "$(id -u)" -eq 0 ]; then U=devopness; '
        'id -u "$U" >/dev/null 2>&1 || useradd -m -s /bin/bash "$U"; '
        "usermod -p '*' \"$U\" 2>/dev/null || true; "
        'mkdir -p /etc/sudoers.d; echo "$U ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/devopness; '
        "chmod 440 /etc/sudoers.d/devopness; "
        'H=$(getent passwd "$U" | cut -d: -f6); '
        'else U=$(id -un); H=$HOME; fi; '
        'mkdir -p "$H/.ssh"; chmod 700 "$H/.ssh"; touch "$H/.ssh/authorized_keys"; '
        'chmod 600 "$H/.ssh/authorized_keys"; '
        'grep -qxF "$K" "$H/.ssh/authorized_keys" || echo "$K" >> "$H/.ssh/authorized_keys"; '
        'if [ "$(id -u)" -eq 0 ]; then chown -R "$U": "$H/.ssh"; fi; '
        "URL=" + shlex.quote(callback_url) + '"?ssh_user=$U"; '
        'if command -v curl >/dev/null 2>&1; then curl -fsS -X POST "$URL"; '
        'else wget -qO- --post-data= "$URL"; fi; echo'
    )
    return "sh -c " + shlex.quote(script)


def _credential_id(value: int | str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed.field(
            "credential_id", "The credential id must be a number."
        ) from None
