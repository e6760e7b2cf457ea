"""SQL shared by every environment resource's repository."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    literal_column,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.interfaces import LoaderOption
from sqlalchemy.sql.util import ClauseAdapter

from app.core.pagination import PageParams, paginate
from app.environments.models import Environment
from app.projects.models import Project
from app.resources_common.models import EnvironmentResource

M = TypeVar("M", bound=EnvironmentResource)

_BY_ID: dict[type[Any], Select[Any]] = {}


@dataclass(frozen=True)
class Collection:
    """A collection of a resource's detail form, read by a statement of its own whose bind
    parameter `owner_id` is the resource's id. Built once per repository class: a
    `selectinload` builds its statement, its options and their cache key again on every
    load, which cost an application's detail more than running its five statements.
    `owner`: each item's relationship back to the resource, filled in without a query."""

    relationship: Any
    statement: Select[Any]
    owner: str | None
    options: tuple[LoaderOption, ...] = ()

    @classmethod
    def of(cls, relationship: Any, *options: LoaderOption) -> Collection:
        """The collection `relationship` (a mapped attribute, `Application.daemons`) read
        through the relationship's own join conditions and order; `options` load what its
        items point at."""
        prop = relationship.property
        owner_model = prop.parent.class_
        stmt = (select(prop.mapper.class_).select_from(owner_model).join(relationship)
                .where(owner_model.id == bindparam("owner_id", type_=Integer))
                .options(*options))
        if prop.order_by:
            stmt = stmt.order_by(*prop.order_by)
        back = prop.back_populates
        owner = back if back and not prop.mapper.attrs[back].uselist else None
        return cls(relationship, stmt, owner, options)

    @property
    def attribute(self) -> str:
        return str(self.relationship.key)

    @property
    def target(self) -> Any:
        return self.relationship.property.mapper.class_

    def outerjoin(self, stmt: Select[Any], only: ColumnElement[bool]) -> Select[Any]:
        """`stmt` outer-joined to this collection's items on the rows where `only` holds.
        The condition sits in the outermost ON clause: an association table is joined
        only on those rows, so no other collection's rows are multiplied by it."""
        prop = self.relationship.property
        if prop.secondary is None:
            return stmt.outerjoin(self.target, and_(prop.primaryjoin, only))
        secondary = prop.secondary.alias()
        adapt = ClauseAdapter(secondary).traverse
        return (stmt.outerjoin(secondary, and_(adapt(prop.primaryjoin), only))
                .outerjoin(self.target, adapt(prop.secondaryjoin)))


@dataclass(frozen=True)
class _Collections:
    """A detail's collections, read by one statement when there are several: each row
    holds one collection's item (the others' columns NULL), picked by a constant `kind`
    column joined from a UNION of constants, so no collection multiplies another's rows.
    An application's five collections cost one round trip and one statement's setup
    instead of five. Their items must be of distinct models (each is one entity of the
    SELECT)."""

    collections: list[Collection]
    statement: Select[Any] | None

    @classmethod
    def of(cls, collections: list[Collection]) -> _Collections:
        if len(collections) < 2:
            return cls(collections, None)
        targets = [c.target for c in collections]
        if len(set(targets)) != len(targets):
            raise ValueError(f"collections of one model cannot be read together: {targets}")
        # Literal columns, not VALUES: a VALUES clause has no cache key, so the statement
        # would be compiled again on every read.
        kind = union_all(*(select(literal_column(str(i), Integer).label("kind"))
                           for i in range(len(collections)))).subquery("collection_kind")
        owner_model = collections[0].relationship.property.parent.class_
        stmt = (select(kind.c.kind, *targets)
                .select_from(owner_model).join(kind, true()))
        for i, collection in enumerate(collections):
            stmt = collection.outerjoin(stmt, kind.c.kind == i)
        order = [o for c in collections for o in (c.relationship.property.order_by or ())]
        stmt = (stmt.where(owner_model.id == bindparam("owner_id", type_=Integer))
                .options(*(o for c in collections for o in c.options))
                .order_by(kind.c.kind, *order))
        return cls(collections, stmt)

    async def read(self, session: AsyncSession, owner_id: int,
                   execution: dict[str, Any]) -> list[list[Any]]:
        """Each collection's items, in the collections' order."""
        if self.statement is None:
            return [list(await session.scalars(c.statement, {"owner_id": owner_id},
                                               execution_options=execution))
                    for c in self.collections]
        found: list[list[Any]] = [[] for _ in self.collections]
        rows = await session.execute(self.statement, {"owner_id": owner_id},
                                     execution_options=execution)
        for kind, *items in rows:
            item = items[kind]
            if item is not None:
                found[kind].append(item)
        return found


_COLLECTIONS: dict[type[Any], _Collections] = {}


@dataclass(frozen=True)
class _Relations:
    """The environment, project and creator relations of a resource's response, joined
    into its SELECT. A resource's environment belongs to the resource's own project (it is
    created with its environment's project, and neither moves), so the environment's
    project is read from the same joined row instead of a second copy of the project, its
    organization and creator (three joins and thirty columns fewer on every read)."""

    project: Any
    options: list[LoaderOption]

    @classmethod
    def of(cls, model: Any) -> _Relations:
        project = aliased(Project, name="resource_project")
        shown = model.project.of_type(project)
        return cls(project, [
            contains_eager(model.environment),
            contains_eager(model.environment).contains_eager(
                Environment.project.of_type(project)),
            contains_eager(shown).joinedload(project.organization),
            contains_eager(shown).joinedload(project.created_by_user),
            joinedload(model.created_by_user),
        ])

    def join(self, stmt: Select[Any], model: Any) -> Select[Any]:
        return stmt.outerjoin(model.environment).outerjoin(
            model.project.of_type(self.project))


_RELATIONS: dict[type[Any], _Relations] = {}


def _relations(model: Any) -> _Relations:
    found = _RELATIONS.get(model)
    if found is None:
        found = _RELATIONS[model] = _Relations.of(model)
    return found


class EnvironmentResourceRepository(Generic[M]):
    model: type[M]
    # Whether the detail form shows the environment, project and creator relations: they
    # are joined into `select_resources` and loaded by `options()` together (a repository
    # whose form shows none of them joins nothing it would not load).
    shows_relations: bool = True

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def options(self) -> list[LoaderOption]:
        """Loader options of the detail form; statements that use them are built by
        `select_resources` (they rely on its joins)."""
        return _relations(self.model).options if self.shows_relations else []

    def select_resources(self) -> Select[Any]:
        if not self.shows_relations:
            return select(self.model)
        return _relations(self.model).join(select(self.model), self.model)

    def list_options(self) -> list[LoaderOption]:
        """What the compact (list) form needs; by default what the detail needs, its
        collections by `selectinload` (one statement for the whole page)."""
        return [*self.options(),
                *(selectinload(c.relationship) for c in self._collections().collections)]

    def _collections(self) -> _Collections:
        collections = _COLLECTIONS.get(type(self))
        if collections is None:
            collections = _COLLECTIONS[type(self)] = _Collections.of(self.collections())
        return collections

    def statement(self) -> Select[Any]:
        return self.select_resources().options(*self.options())

    def _by_id(self) -> Select[Any]:
        # Built once per repository class (its options never depend on the request):
        # building the loader options and their cache key cost more than the SELECT itself.
        built = _BY_ID.get(type(self))
        if built is None:
            built = _BY_ID[type(self)] = self.statement().where(
                self.model.id == bindparam("resource_id"))
        return built

    async def list_in_environment(self, environment_id: int, page: PageParams) -> Sequence[M]:
        stmt = (
            self.select_resources()
            .options(*self.list_options())
            .where(self.model.environment_id == environment_id)
            .order_by(self.model.id)
        )
        return await paginate(self.session, stmt, page)

    def collections(self) -> list[Collection]:
        """The detail form's collections read by statements of their own (see Collection);
        the others, if any, are in `options()`."""
        return []

    async def get(self, resource_id: int, *, fresh: bool = False) -> M | None:
        # After a write: reload relationships the write may have changed.
        execution = {"populate_existing": True} if fresh else {}
        resource: M | None = await self.session.scalar(
            self._by_id(), {"resource_id": resource_id}, execution_options=execution)
        if resource is None:
            return None
        collections = self._collections()
        read = await collections.read(self.session, resource.id, execution)
        for collection, items in zip(collections.collections, read, strict=True):
            set_committed_value(resource, collection.attribute, items)
            if collection.owner is not None:
                for item in items:
                    set_committed_value(item, collection.owner, resource)
        return resource

    async def get_plain(self, resource_id: int) -> M | None:
        return await self.session.get(self.model, resource_id)

    async def ids_in_environment(self, environment_id: int, ids: Iterable[int]) -> set[int]:
        wanted = set(ids)
        if not wanted:
            return set()
        rows = await self.session.scalars(
            select(self.model.id).where(
                self.model.environment_id == environment_id, self.model.id.in_(wanted)
            )
        )
        return set(rows)

    async def add(self, resource: M) -> None:
        self.session.add(resource)
        await self.session.flush()

    async def delete(self, resource: M) -> None:
        await self.session.delete(resource)
        await self.session.flush()
