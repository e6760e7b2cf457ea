"""Networks and subnets of an environment, on the cloud of one of its credentials."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.permissions import Authorizer
from app.actions.start import start_action
from app.catalogue import service as catalogue_data
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.core.settings import Settings
from app.credentials.models import Credential
from app.environments.models import Environment
from app.events.audit import record_event, snapshot
from app.networks import cidr
from app.networks.models import Network, Subnet
from app.networks.repository import NetworkRepository
from app.networks.schemas import NetworkCreate, NetworkUpdate, SubnetCreate
from app.resource_links.registry import resource_type
from app.resource_links.service import add_managed_link, forget_resource
from app.resources_common.access import EnvironmentAccess

NETWORK_AUDITED = ("name", "credential_id", "cloud_service_code", "region", "cidr_block")
SUBNET_AUDITED = ("name", "network_id", "credential_id", "region", "zone", "cidr_block")
SETTINGS = "provision_input.settings"


R = TypeVar("R")


class NetworkService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.last_action_id: int | None = None
        self.networks = NetworkRepository(session)
        self.authorizer = Authorizer(session)

    # ------------------------------------------------------------------ helpers

    async def _cloud_credential(
        self, principal: Principal, environment: Environment, credential_id: int,
        cloud_service_code: str,
    ) -> Credential:
        return await EnvironmentAccess(self.session).credential(
            principal, credential_id, environment_id=environment.id,
            cloud_service_code=cloud_service_code, active=True,
        )

    async def _authorized(
        self, principal: Principal, permission: str, what: str,
        environment_of: Awaitable[int | None], load: Callable[[], Awaitable[R | None]],
    ) -> R:
        """A network or subnet the principal may `permission` in its environment; a missing
        one and a forbidden one are both not found."""
        environment_id = await environment_of
        if environment_id is None:
            raise NotFound(f"{what} not found.")
        await self.authorizer.environment(
            principal, environment_id, permission, not_found=f"{what} not found."
        )
        record = await load()
        assert record is not None
        return record

    async def _network(self, principal: Principal, network_id: int, permission: str) -> Network:
        return await self._authorized(
            principal, permission, "Network", self.networks.network_environment(network_id),
            lambda: self.networks.get_network(network_id),
        )

    async def _subnet(self, principal: Principal, subnet_id: int, permission: str) -> Subnet:
        return await self._authorized(
            principal, permission, "Subnet", self.networks.subnet_environment(subnet_id),
            lambda: self.networks.get_subnet(subnet_id),
        )

    # ------------------------------------------------------------------ networks

    async def list_networks(
        self, principal: Principal, environment_id: int, page: PageParams, *,
        provider_name: str | None, region: str | None, include_default: bool,
    ) -> Sequence[Network]:
        await self.authorizer.environment(principal, environment_id, "network:read")
        return await self.networks.page_networks(
            environment_id, page, provider_name=provider_name, region=region,
            include_auto_generated=include_default,
        )

    async def create_network(
        self, principal: Principal, ip: str, environment_id: int, data: NetworkCreate
    ) -> Network:
        environment = await self.authorizer.environment(
            principal, environment_id, "network:create"
        )
        code = data.provision_input.cloud_service_code
        if code == "self-hosted-custom":
            raise ValidationFailed.field(
                "provision_input.cloud_service_code",
                "Self-hosted servers bring their own network; choose a cloud service.",
            )
        credential = await self._cloud_credential(
            principal, environment, data.credential_id, code
        )
        settings = data.provision_input.settings
        if settings.region not in catalogue_data.region_codes(code):
            raise ValidationFailed.field(f"{SETTINGS}.region", "The selected region is invalid.")
        block: str | None = None
        if code == "gcp-gce":
            # Google VPCs are global and carry no range: ranges belong to their subnets.
            if settings.cidr_block:
                raise ValidationFailed.field(
                    f"{SETTINGS}.cidr_block", "Google Cloud networks have no CIDR block."
                )
        else:
            if not settings.cidr_block:
                raise ValidationFailed.field(
                    f"{SETTINGS}.cidr_block", "The cidr block field is required."
                )
            block = cidr.network_block(settings.cidr_block)
        if await self.networks.network_name_taken(environment.id, data.name):
            raise ValidationFailed.field("name", "The name has already been taken.")
        network = Network(
            environment_id=environment.id,
            project_id=environment.project_id,
            credential_id=credential.id,
            name=data.name,
            provider_name=credential.provider_code,
            cloud_service_code=code,
            region=settings.region,
            cidr_block=block,
            created_by=principal.user_id,
        )
        await self.networks.add(network)
        await self._provision(principal, ip, "network", network, NETWORK_AUDITED)
        loaded = await self.networks.get_network(network.id)
        assert loaded is not None
        return loaded

    async def _start(
        self, principal: Principal, kind: str, resource_id: int, operation: str,
        environment_id: int, project_id: int,
    ) -> int:
        """The action that does `operation` at the provider (see app.networks.remote)."""
        action = await start_action(
            self.session, resource_type=kind, resource_id=resource_id, operation=operation,
            triggered_by=principal, project_id=project_id, environment_id=environment_id,
        )
        return action.id

    async def get_network(self, principal: Principal, network_id: int) -> Network:
        return await self._network(principal, network_id, "network:read")

    async def update_network(
        self, principal: Principal, ip: str, network_id: int, data: NetworkUpdate
    ) -> None:
        network = await self._network(principal, network_id, "network:update")
        if data.id != network.id:
            raise ValidationFailed.field("id", "The id must match the network in the URL.")
        before = snapshot(network, NETWORK_AUDITED)
        credential = await self._cloud_credential(
            principal, network.environment, data.credential_id, network.cloud_service_code
        )
        network.credential_id = credential.id
        await self.session.flush()
        record_event(
            self.session, principal, ip, "network", network.id, "updated", before,
            snapshot(network, NETWORK_AUDITED), environment_id=network.environment_id,
        )

    async def delete_network(
        self, principal: Principal, ip: str, network_id: int
    ) -> int | None:
        """A network created at the provider is deleted there by an action, and its record
        once the provider confirmed (the action id is returned); one that never reached the
        provider goes at once."""
        network = await self._network(principal, network_id, "network:delete")
        count = await self.networks.subnet_count(network.id)
        if count:
            raise Conflict(f"The network still has {count} subnet(s); delete them first.")
        return await self._remove(principal, ip, "network", network, NETWORK_AUDITED)

    async def _provision(
        self, principal: Principal, ip: str, kind: str, record: Network | Subnet,
        audited: tuple[str, ...],
    ) -> None:
        """Audit the creation and start the action that makes it at the provider (its id
        is kept in `last_action_id`)."""
        record_event(
            self.session, principal, ip, kind, record.id, "created", None,
            snapshot(record, audited), environment_id=record.environment_id,
        )
        self.last_action_id = await self._start(principal, kind, record.id, "provision",
                                                record.environment_id, record.project_id)

    async def _remove(
        self, principal: Principal, ip: str, kind: str, record: Network | Subnet,
        audited: tuple[str, ...],
    ) -> int | None:
        """Audit the deletion, then delete at the provider through an action (its id is
        returned) or, for a record that never reached the provider, at once."""
        record_event(
            self.session, principal, ip, kind, record.id, "deleted",
            snapshot(record, audited), None, environment_id=record.environment_id,
        )
        if record.provider_id:
            return await self._start(principal, kind, record.id, "delete",
                                     record.environment_id, record.project_id)
        await forget_resource(self.session, kind, record.id)
        await self.networks.delete(record)
        return None

    async def network_status(self, principal: Principal, ip: str, network_id: int) -> int:
        network = await self._network(principal, network_id, "network:get-status")
        return await self._start(principal, "network", network.id, "get_status",
                                 network.environment_id, network.project_id)

    # ------------------------------------------------------------------ subnets

    async def list_environment_subnets(
        self, principal: Principal, environment_id: int, page: PageParams
    ) -> Sequence[Subnet]:
        await self.authorizer.environment(principal, environment_id, "subnet:read")
        return await self.networks.page_subnets(page, environment_id=environment_id)

    async def list_network_subnets(
        self, principal: Principal, network_id: int, page: PageParams,
        region: str | None, zone: str | None,
    ) -> Sequence[Subnet]:
        network = await self._network(principal, network_id, "subnet:read")
        return await self.networks.page_subnets(
            page, network_id=network.id, region=region, zone=zone
        )

    def _subnet_location(
        self, network: Network, region: str | None, zone: str | None
    ) -> tuple[str | None, str | None]:
        code = network.cloud_service_code
        if code == "aws-ec2":
            if region and region != network.region:
                raise ValidationFailed.field(
                    f"{SETTINGS}.region", "The region must be the network's region."
                )
            if not zone:
                raise ValidationFailed.field(f"{SETTINGS}.zone", "The zone field is required.")
            if zone not in catalogue_data.zone_codes(code, network.region):
                raise ValidationFailed.field(
                    f"{SETTINGS}.zone", f"The zone must be one of {network.region}'s zones."
                )
            return network.region, zone
        if code == "gcp-gce":
            if not region:
                raise ValidationFailed.field(
                    f"{SETTINGS}.region", "The region field is required."
                )
            if region not in catalogue_data.region_codes(code):
                raise ValidationFailed.field(
                    f"{SETTINGS}.region", "The selected region is invalid."
                )
            return region, None
        if region and region != network.region:
            raise ValidationFailed.field(
                f"{SETTINGS}.region", "The region must be the network's region."
            )
        return network.region, None

    async def create_subnet(
        self, principal: Principal, ip: str, network_id: int, data: SubnetCreate
    ) -> Subnet:
        network = await self._network(principal, network_id, "subnet:create")
        credential = await self._cloud_credential(
            principal, network.environment, data.credential_id, network.cloud_service_code
        )
        settings = data.provision_input.settings
        region, zone = self._subnet_location(network, settings.region, settings.zone)
        siblings = await self.networks.subnets_of(network.id)
        if data.name in {name for name, _ in siblings}:
            raise ValidationFailed.field("name", "The name has already been taken.")
        block = cidr.subnet_block(settings.cidr_block, network.cidr_block, siblings)
        subnet = Subnet(
            network_id=network.id,
            environment_id=network.environment_id,
            project_id=network.project_id,
            credential_id=credential.id,
            name=data.name,
            type=data.type,
            region=region,
            zone=zone,
            cidr_block=block,
            created_by=principal.user_id,
        )
        await self.networks.add(subnet)
        described = await resource_type("subnet").describe(self.session, [subnet.id])
        network_ref = await resource_type("network").describe(self.session, [network.id])
        await add_managed_link(self.session, network_ref[network.id], described[subnet.id])
        await self._provision(principal, ip, "subnet", subnet, SUBNET_AUDITED)
        loaded = await self.networks.get_subnet(subnet.id)
        assert loaded is not None
        return loaded

    async def get_subnet(self, principal: Principal, subnet_id: int) -> Subnet:
        return await self._subnet(principal, subnet_id, "subnet:read")

    async def delete_subnet(self, principal: Principal, ip: str, subnet_id: int) -> int | None:
        subnet = await self._subnet(principal, subnet_id, "subnet:delete")
        return await self._remove(principal, ip, "subnet", subnet, SUBNET_AUDITED)
