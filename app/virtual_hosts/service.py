"""Virtual hosts: web server sites (by domain name or address) on the servers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import Conflict, ValidationFailed
from app.resources_common import validators
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
    ownership,
)
from app.virtual_hosts.models import VirtualHost, VirtualHostType
from app.virtual_hosts.repository import VirtualHostRepository
from app.virtual_hosts.schemas import (
    VirtualHostEnvironmentCreate,
    VirtualHostUpdate,
    check_name,
)


class VirtualHostService(EnvironmentResourceService[VirtualHost]):
    label = "Virtual host"
    resource_type = "virtual-host"

    def __init__(self, session: AsyncSession) -> None:
        self.hosts = VirtualHostRepository(session)
        super().__init__(session, self.hosts)

    async def create(
        self, principal: Principal, environment_id: int, data: VirtualHostEnvironmentCreate
    ) -> VirtualHost:
        environment = await self.environment_for_create(principal, environment_id)
        if await self.hosts.name_taken(environment_id, data.name):
            raise ValidationFailed.field("name", "The name has already been taken.")
        application_id = await self.application_in(
            environment_id, data.application_id, principal=principal
        )
        server_ids = await linked_server_ids(
            self.session, environment_id, data.linked_resources, principal
        )
        host = VirtualHost(
            **ownership(environment, principal),
            type=data.type,
            name=data.name,
            root_directory=data.root_directory,
            application_listen_address=data.application_listen_address,
            application_id=application_id,
        )
        return await self.add_linked(host, server_ids)

    async def update(self, principal: Principal, host_id: int, data: VirtualHostUpdate) -> None:
        check_body_id(data.id, host_id)
        host = await self.get(principal, host_id, "update")
        try:
            name = check_name(VirtualHostType(host.type), data.name)
        except ValueError as exc:
            raise ValidationFailed.field("name", f"The name field is invalid: {exc}.") from None
        if await self.hosts.name_taken(host.environment_id, name, host.id):
            raise ValidationFailed.field("name", "The name has already been taken.")
        if host.ssl_certificate is not None and name != host.name:
            raise Conflict(
                "The name of a virtual host with an SSL certificate cannot change; delete "
                "the certificate first."
            )
        fields = data.model_fields_set
        host.name = name
        if "application_id" in fields:
            host.application_id = await self.application_in(
                host.environment_id, data.application_id, principal=principal
            )
        if "root_directory" in fields:
            host.root_directory = data.root_directory
        if fields & {"application_id", "root_directory"}:
            host.root_directory = _root_directory(host.root_directory, host.application_id)
        if "application_listen_address" in fields:
            host.application_listen_address = data.application_listen_address
        await self.session.flush()

    async def check_delete(self, resource: VirtualHost) -> None:
        if resource.ssl_certificate is not None:
            raise Conflict(
                f"The virtual host has SSL certificate {resource.ssl_certificate.id}; "
                "delete the certificate first."
            )


def _root_directory(value: str | None, application_id: int | None) -> str | None:
    """Relative to the application's release when the host has one, absolute otherwise."""
    if value is None:
        return None
    try:
        if application_id is None:
            return validators.validate_absolute_path(value)
        return validators.validate_relative_path(value)
    except ValueError as exc:
        raise ValidationFailed.field(
            "root_directory", f"The root directory field is invalid: {exc}."
        ) from None
