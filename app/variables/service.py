"""Variables: keys/values (or files, or links) deployed with an application, server,
service or virtual host. Hidden values are encrypted at rest and never returned."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.core.errors import ValidationFailed
from app.core.pagination import PageParams
from app.core.security import SecretBox
from app.core.settings import Settings
from app.resources_common.access import EnvironmentAccess
from app.resources_common.models import EnvironmentResource
from app.resources_common.registry import resource_models
from app.resources_common.service import check_body_id
from app.static_options.catalog import RESOURCE_VARIABLE_TARGETS
from app.variables import reserved
from app.variables.models import Variable
from app.variables.repository import VariableRepository
from app.variables.schemas import VariableCreate, VariableUpdate

LABELS = {
    "application": "Application",
    "server": "Server",
    "service": "Service",
    "virtual-host": "Virtual host",
}


class VariableService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.variables = VariableRepository(session)
        self.access = EnvironmentAccess(session)
        self.box = SecretBox(settings)

    async def _owner(
        self, principal: Principal, resource_type: str, resource_id: int, permission: str
    ) -> EnvironmentResource:
        """The resource variables hang off, if it takes variables and the caller may act."""
        if resource_type not in RESOURCE_VARIABLE_TARGETS:
            raise ValidationFailed.field(
                "resource_type",
                "Variables belong to one of: " + ", ".join(RESOURCE_VARIABLE_TARGETS) + ".",
            )
        model = resource_models()[resource_type]
        resource = await self.session.scalar(select(model).where(model.id == resource_id))
        await self.access.resource(principal, resource, permission, LABELS[resource_type])
        assert resource is not None
        return resource

    async def list(
        self,
        principal: Principal,
        resource_type: str,
        resource_id: int,
        page: PageParams,
        target: str | None = None,
    ) -> Sequence[Variable]:
        await self._owner(principal, resource_type, resource_id, "variable:read")
        return await self.variables.list_for_resource(resource_type, resource_id, target, page)

    async def get(self, principal: Principal, variable_id: int, permission: str = "variable:read"
                  ) -> Variable:
        variable = await self.variables.get(variable_id)
        await self.access.resource(principal, variable, permission, "Variable")
        assert variable is not None
        return variable

    def _check_target(self, resource_type: str, target: str) -> None:
        allowed = RESOURCE_VARIABLE_TARGETS[resource_type]
        if target not in allowed:
            raise ValidationFailed.field(
                "target",
                f"The target of a {resource_type} variable must be one of: "
                + ", ".join(allowed) + ".",
            )

    async def _check_name(
        self, principal: Principal, resource_type: str, owner: EnvironmentResource,
        data: VariableCreate,
    ) -> None:
        """Names the built-in scripts read are not the user's to set (see
        `app.variables.reserved`): an application's deploy settings need the right to
        update the application, every other such name is refused."""
        if data.target != "os-env-var":
            return
        if resource_type == "application" and data.key in reserved.APPLICATION_SETTINGS:
            await self.access.resource(principal, owner, "application:update", "Application")
            problem = reserved.application_setting_problem(data.key, data.value)
            if problem is not None:
                raise ValidationFailed.field("value", f"The value of {data.key} {problem}.")
            return
        reason = reserved.reserved_reason(data.key)
        if reason is not None:
            raise ValidationFailed.field("key", reason[0].upper() + reason[1:] + ".")

    def _store_value(self, variable: Variable, value: str, hidden: bool) -> None:
        variable.hidden = hidden
        if hidden:
            variable.value_encrypted = self.box.encrypt(value)
            variable.value_plain = None
        else:
            variable.value_plain = value
            variable.value_encrypted = None

    def reveal(self, variable: Variable) -> str | None:
        """The stored value in clear, for whoever deploys it (never for API responses)."""
        if variable.hidden:
            return self.box.decrypt(variable.value_encrypted) if variable.value_encrypted else None
        return variable.value_plain

    async def create(
        self, principal: Principal, resource_type: str, resource_id: int, data: VariableCreate
    ) -> Variable:
        owner = await self._owner(principal, resource_type, resource_id, "variable:create")
        self._check_target(resource_type, data.target)
        await self._check_name(principal, resource_type, owner, data)
        if await self.variables.key_taken(resource_type, resource_id, data.target, data.key):
            raise ValidationFailed.field("key", "The key has already been taken for this target.")
        variable = Variable(
            environment_id=owner.environment_id,
            project_id=owner.project_id,
            created_by=principal.user_id,
            resource_type=resource_type,
            resource_id=resource_id,
            key=data.key,
            type=data.type,
            target=data.target,
            description=data.description,
        )
        self._store_value(variable, data.value, data.hidden)
        await self.variables.add(variable)
        fresh = await self.variables.get(variable.id, fresh=True)
        assert fresh is not None
        return fresh

    async def update(self, principal: Principal, variable_id: int, data: VariableUpdate) -> None:
        check_body_id(data.id, variable_id)
        variable = await self.get(principal, variable_id, "variable:update")
        self._check_target(variable.resource_type, data.target)
        owner = await self._owner(principal, variable.resource_type, variable.resource_id,
                                  "variable:update")
        await self._check_name(principal, variable.resource_type, owner, data)
        if await self.variables.key_taken(
            variable.resource_type, variable.resource_id, data.target, data.key, variable.id
        ):
            raise ValidationFailed.field("key", "The key has already been taken for this target.")
        variable.key = data.key
        variable.type = data.type
        variable.target = data.target
        if "description" in data.model_fields_set:
            variable.description = data.description
        self._store_value(variable, data.value, data.hidden)
        await self.session.flush()

    async def delete(self, principal: Principal, variable_id: int) -> None:
        variable = await self.get(principal, variable_id, "variable:delete")
        await self.variables.delete(variable)


