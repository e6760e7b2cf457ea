from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.core.pagination import PageParams, paginate
from app.core.security import SecretBox
from app.resources_common.repository import EnvironmentResourceRepository
from app.variables.models import Variable


class VariableRepository(EnvironmentResourceRepository[Variable]):
    model = Variable
    shows_relations = False

    def options(self) -> list[LoaderOption]:
        return [selectinload(Variable.created_by_user)]

    async def list_for_resource(
        self, resource_type: str, resource_id: int, target: str | None, page: PageParams
    ) -> Sequence[Variable]:
        stmt = self.statement().where(
            Variable.resource_type == resource_type, Variable.resource_id == resource_id
        )
        if target is not None:
            stmt = stmt.where(Variable.target == target)
        return await paginate(self.session, stmt.order_by(Variable.id), page)

    async def key_taken(
        self, resource_type: str, resource_id: int, target: str, key: str,
        exclude_id: int | None = None,
    ) -> bool:
        stmt = select(Variable.id).where(
            Variable.resource_type == resource_type,
            Variable.resource_id == resource_id,
            Variable.target == target,
            Variable.key == key,
        )
        if exclude_id is not None:
            stmt = stmt.where(Variable.id != exclude_id)
        return (await self.session.scalar(stmt.limit(1))) is not None


async def deployable_variables(
    session: AsyncSession, box: SecretBox, resource_type: str, resource_id: int
) -> list[DeployableVariable]:
    """A resource's variables with their values in clear, for the scripts that write them
    on servers (never for API responses)."""
    return (await deployable_variables_of(session, box, resource_type, [resource_id]))[
        resource_id]


async def deployable_variables_of(
    session: AsyncSession, box: SecretBox, resource_type: str, resource_ids: Sequence[int]
) -> dict[int, list[DeployableVariable]]:
    """`deployable_variables` of several resources of one type, in one query (an action
    on 50 servers reads the variables of all 50)."""
    found: dict[int, list[DeployableVariable]] = {i: [] for i in resource_ids}
    rows = await session.scalars(
        _variables_of(), {"resource_type": resource_type, "resource_ids": list(found)})
    for v in rows:
        value = (
            box.decrypt(v.value_encrypted) if v.hidden and v.value_encrypted else v.value_plain
        )
        found[v.resource_id].append(
            DeployableVariable(v.key, v.type, v.target, value or "", v.hidden))
    return found


@cache
def _variables_of() -> Select[Variable]:
    # Built once: an action reads this for the servers it runs on.
    return (
        select(Variable)
        .where(Variable.resource_type == bindparam("resource_type", type_=String),
               Variable.resource_id.in_(bindparam("resource_ids", expanding=True)))
        .order_by(Variable.id)
    )


@dataclass(frozen=True)
class DeployableVariable:
    key: str
    type: str  # "variable" or "file"
    target: str  # "os-env-var", "resource-config-file"...
    value: str
    hidden: bool
