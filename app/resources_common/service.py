"""Rules every environment resource shares: linking, deleting, starting operations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Generic, TypeVar

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.actions import builtins
from app.actions.default_steps import (
    delete_resource_pipelines,
    ensure_default_pipelines,
    has_default_steps,
)
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import PageParams
from app.environments.models import Environment
from app.resources_common import links
from app.resources_common.access import EnvironmentAccess
from app.resources_common.models import EnvironmentResource, ResourceType
from app.resources_common.operations import start_operation
from app.resources_common.registry import resource_models
from app.resources_common.repository import EnvironmentResourceRepository
from app.resources_common.schemas import OperationRequest, ResourceToBeLinked


async def linked_server_ids(
    session: AsyncSession, environment_id: int, linked: Sequence[ResourceToBeLinked],
    principal: Principal | None,
) -> list[int]:
    """Servers named in `linked_resources`; each must be a server of the same environment
    (and readable by `principal` when given)."""
    for index, item in enumerate(linked):
        if item.resource_type != ResourceType.SERVER:
            raise ValidationFailed.field(
                f"linked_resources.{index}.resource_type",
                "This resource can only be linked to servers.",
            )
    access = EnvironmentAccess(session)
    for index, item in enumerate(linked):
        await access.reference(
            principal, "server", item.resource_id,
            field=f"linked_resources.{index}.resource_id", environment_id=environment_id,
        )
    return list(dict.fromkeys(item.resource_id for item in linked))


async def linked_resources_by_type(
    session: AsyncSession, environment_id: int, linked: Sequence[ResourceToBeLinked],
    principal: Principal | None,
) -> dict[str, list[int]]:
    """Resources named in a server's `linked_resources`, checked to exist in the environment
    (and to be readable by `principal` when given)."""
    models = resource_models()
    access = EnvironmentAccess(session)
    grouped: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(linked):
        model = models.get(str(item.resource_type))
        if model is None or item.resource_type == ResourceType.SERVER:
            raise ValidationFailed.field(
                f"linked_resources.{index}.resource_type",
                f"A server cannot be linked to a resource of type {item.resource_type}.",
            )
        await access.reference(
            principal, str(item.resource_type), item.resource_id,
            field=f"linked_resources.{index}.resource_id", environment_id=environment_id,
        )
        grouped[str(item.resource_type)].append(item.resource_id)
    return grouped


async def remove_resource(session: AsyncSession, resource: EnvironmentResource) -> None:
    """Delete a resource with everything that hangs off it by (type, id)."""
    from app.variables.models import Variable

    resource_type = str(resource.RESOURCE_TYPE)
    await links.unlink_all(session, resource_type, resource.id)
    await delete_resource_pipelines(session, resource_type, resource.id)
    await session.execute(
        delete(Variable).where(
            Variable.resource_type == resource_type, Variable.resource_id == resource.id
        )
    )
    await session.delete(resource)
    await session.flush()


async def run_operation(
    session: AsyncSession,
    principal: Principal,
    resource: EnvironmentResource,
    operation: str,
    body: OperationRequest | None,
) -> int:
    return await start_operation(
        session,
        principal,
        str(resource.RESOURCE_TYPE),
        resource.id,
        operation,
        environment_id=resource.environment_id,
        project_id=resource.project_id,
        servers=body.servers if body else None,
        trigger_comment=body.trigger_comment if body else None,
    )


def ownership(environment: Environment, principal: Principal) -> dict[str, int | None]:
    """The columns an environment resource is created with: where it lives, who made it."""
    return {"environment_id": environment.id, "project_id": environment.project_id,
            "created_by": principal.user_id}


def check_body_id(body_id: int, path_id: int) -> None:
    if body_id != path_id:
        raise ValidationFailed.field("id", "The id must match the id in the URL.")


M = TypeVar("M", bound=EnvironmentResource)


class EnvironmentResourceService(Generic[M]):
    """Reads, deletes and operations every environment resource shares. Subclasses add
    create/update rules and may veto deletion in `check_delete`."""

    label: str
    resource_type: str

    def __init__(self, session: AsyncSession, repository: EnvironmentResourceRepository[M]
                 ) -> None:
        self.session = session
        self.repository = repository
        self.access = EnvironmentAccess(session)

    def permission(self, operation: str) -> str:
        return f"{self.resource_type}:{operation}"

    async def list(
        self, principal: Principal, environment_id: int, page: PageParams
    ) -> Sequence[M]:
        await self.access.environment(principal, environment_id, self.permission("read"))
        return await self.repository.list_in_environment(environment_id, page)

    async def get(self, principal: Principal, resource_id: int, operation: str = "read") -> M:
        resource = await self.repository.get(resource_id)
        await self.access.resource(principal, resource, self.permission(operation), self.label)
        assert resource is not None
        return resource

    async def environment_for_create(self, principal: Principal, environment_id: int
                                     ) -> Environment:
        environment = await self.access.environment(
            principal, environment_id, self.permission("create")
        )
        if environment.archived_at is not None:
            raise Conflict("The environment is archived; unarchive it to add resources.")
        return environment

    async def add_linked(self, resource: M, server_ids: Sequence[int]) -> M:
        """Store a new resource, link it to its servers, then as `created`."""
        await self.repository.add(resource)
        await links.link_servers(self.session, self.resource_type, resource.id, server_ids)
        return await self.created(resource)

    async def created(self, resource: M) -> M:
        """After a create: the resource's default pipelines exist from the start (one per
        operation of its type), then the freshly loaded resource."""
        await ensure_default_pipelines(
            self.session,
            self.resource_type,
            resource.id,
            project_id=resource.project_id,
            environment_id=resource.environment_id,
            created_by=resource.created_by,
        )
        return await self.fresh(resource.id)

    async def fresh(self, resource_id: int) -> M:
        resource = await self.repository.get(resource_id, fresh=True)
        assert resource is not None
        return resource

    async def check_delete(self, resource: M) -> None:
        """Raise Conflict when others depend on `resource`."""

    async def delete(self, principal: Principal, resource_id: int) -> None:
        resource = await self.get(principal, resource_id, "delete")
        await self.check_delete(resource)
        await self.remove_from_servers(principal, resource)
        await remove_resource(self.session, resource)

    async def remove_from_servers(self, principal: Principal, resource: M) -> int | None:
        """Deleting a resource that was deployed takes it off its servers: a `remove`
        action, with the parameters captured now since the row is gone when it runs."""
        resource_type = str(resource.RESOURCE_TYPE)
        if not has_default_steps(resource_type, "remove"):
            return None
        if not await links.servers_for(self.session, resource_type, resource.id):
            return None
        env = await builtins.snapshot_env(self.session, resource_type, resource.id, "remove")
        return await start_operation(
            self.session, principal, resource_type, resource.id, "remove",
            environment_id=resource.environment_id, project_id=resource.project_id,
            action_data={"env": env},
        )

    async def operation(
        self, principal: Principal, resource_id: int, operation: str,
        body: OperationRequest | None,
    ) -> int:
        resource = await self.get(principal, resource_id, operation)
        return await run_operation(self.session, principal, resource, operation, body)

    async def application_in(self, environment_id: int, application_id: int | None,
                             field: str = "application_id", *,
                             principal: Principal | None) -> int | None:
        """An application id given in a body must name an application of the environment."""
        if application_id is None:
            return None
        return await self.access.reference(
            principal, "application", application_id, field=field,
            environment_id=environment_id,
        )
