from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.core.pagination import PageParams, paginate
from app.credentials.models import Credential
from app.environments.models import Environment
from app.networks.models import Network, Subnet
from app.projects.models import Project


# Every relation below is many-to-one: joined into the row's own SELECT instead of one
# statement per relation.
def _environment_tree(attr: Any) -> Any:
    project = joinedload(attr).joinedload(Environment.project)
    return (
        project.joinedload(Project.organization),
        project.joinedload(Project.created_by_user),
    )


def _credential_tree(attr: Any) -> Any:
    credential = joinedload(attr)
    return (
        credential.joinedload(Credential.organization),
        credential.joinedload(Credential.created_by_user),
    )


class NetworkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def network_options(stmt: Select[Network]) -> Select[Network]:
        return stmt.options(
            *_environment_tree(Network.environment),
            *_credential_tree(Network.credential),
            joinedload(Network.created_by_user),
        )

    @staticmethod
    def subnet_options(stmt: Select[Subnet]) -> Select[Subnet]:
        network = joinedload(Subnet.network)
        return stmt.options(
            *_environment_tree(Subnet.environment),
            *_credential_tree(Subnet.credential),
            network.joinedload(Network.credential).joinedload(Credential.organization),
            network.joinedload(Network.credential).joinedload(Credential.created_by_user),
            joinedload(Subnet.created_by_user),
        )

    async def get_network(self, network_id: int) -> Network | None:
        return await self.session.scalar(
            self.network_options(select(Network).where(Network.id == network_id))
        )

    async def get_subnet(self, subnet_id: int) -> Subnet | None:
        return await self.session.scalar(
            self.subnet_options(select(Subnet).where(Subnet.id == subnet_id))
        )

    async def network_environment(self, network_id: int) -> int | None:
        return await self.session.scalar(
            select(Network.environment_id).where(Network.id == network_id)
        )

    async def subnet_environment(self, subnet_id: int) -> int | None:
        return await self.session.scalar(
            select(Subnet.environment_id).where(Subnet.id == subnet_id)
        )

    async def page_networks(
        self, environment_id: int, page: PageParams, *, provider_name: str | None,
        region: str | None, include_auto_generated: bool,
    ) -> Sequence[Network]:
        stmt = select(Network).where(Network.environment_id == environment_id)
        if provider_name:
            stmt = stmt.where(Network.provider_name == provider_name)
        if region:
            stmt = stmt.where(Network.region == region)
        if not include_auto_generated:
            stmt = stmt.where(Network.is_auto_generated.is_(False))
        stmt = stmt.options(*_credential_tree(Network.credential)).order_by(
            Network.name, Network.id
        )
        return await paginate(self.session, stmt, page)

    async def page_subnets(
        self, page: PageParams, *, environment_id: int | None = None,
        network_id: int | None = None, region: str | None = None, zone: str | None = None,
    ) -> Sequence[Subnet]:
        stmt = select(Subnet)
        if environment_id is not None:
            stmt = stmt.where(Subnet.environment_id == environment_id)
        if network_id is not None:
            stmt = stmt.where(Subnet.network_id == network_id)
        if region:
            stmt = stmt.where(Subnet.region == region)
        if zone:
            stmt = stmt.where(Subnet.zone == zone)
        network = joinedload(Subnet.network)
        stmt = stmt.options(
            network.joinedload(Network.credential).joinedload(Credential.organization),
            network.joinedload(Network.credential).joinedload(Credential.created_by_user),
        ).order_by(Subnet.name, Subnet.id)
        return await paginate(self.session, stmt, page)

    async def network_name_taken(
        self, environment_id: int, name: str, except_id: int | None = None
    ) -> bool:
        stmt = select(Network.id).where(
            Network.environment_id == environment_id, Network.name == name
        )
        if except_id is not None:
            stmt = stmt.where(Network.id != except_id)
        return await self.session.scalar(stmt.limit(1)) is not None

    async def subnets_of(self, network_id: int) -> list[tuple[str, str]]:
        rows = await self.session.execute(
            select(Subnet.name, Subnet.cidr_block).where(Subnet.network_id == network_id)
        )
        return [(r[0], r[1]) for r in rows.all()]

    async def subnet_count(self, network_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(Subnet).where(Subnet.network_id == network_id)
            )
            or 0
        )

    async def add(self, row: Network | Subnet) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete(self, row: Network | Subnet) -> None:
        await self.session.delete(row)
        await self.session.flush()
