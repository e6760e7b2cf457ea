"""Environment resources whose name is unique within their environment (applications,
daemons, services): the lookup behind the unique constraint, and the error a taken name
gives before the database would refuse it."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select

from app.core.errors import ValidationFailed
from app.resources_common.models import EnvironmentResource
from app.resources_common.repository import EnvironmentResourceRepository

M = TypeVar("M", bound=EnvironmentResource)


class NamedResourceRepository(EnvironmentResourceRepository[M]):
    """Repository of a model with a `name` column unique per environment."""

    async def name_taken(self, environment_id: int, name: str, exclude_id: int | None = None
                         ) -> bool:
        # EnvironmentResource declares no `name`; every model served here has one.
        model: Any = self.model
        stmt = select(model.id).where(model.environment_id == environment_id, model.name == name)
        if exclude_id is not None:
            stmt = stmt.where(model.id != exclude_id)
        return (await self.session.scalar(stmt.limit(1))) is not None


async def check_name_free(repository: NamedResourceRepository[M], environment_id: int,
                          name: str, exclude_id: int | None = None) -> None:
    if await repository.name_taken(environment_id, name, exclude_id):
        raise ValidationFailed.field("name", "The name has already been taken.")
