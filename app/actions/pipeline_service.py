"""`PipelineService`: a resource's pipelines (list, create, change, delete), their steps
(add, change, reorder, link and unlink) and running one, which starts its operation on
the resource as an action."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.catalogue import operation_permission
from app.access.permissions import Authorizer
from app.actions.default_steps import STEP_ORDER_GAP
from app.actions.models import Action, Pipeline, PipelineStep
from app.actions.pipeline_schemas import (
    PipelineCreate,
    PipelineUpdate,
    StepPipelineCreate,
    StepPipelineUpdate,
)
from app.actions.repository import PipelineRepository
from app.actions.schemas import ActionPipelineCreate
from app.actions.scope import authorize_resource, authorize_scope, readable_pipeline
from app.actions.service import ActionService
from app.actions.start import deploy_action_data, start_action
from app.core.errors import Forbidden, NotFound, ValidationFailed
from app.core.pagination import PageParams
from app.projects.models import Project
from app.resources_common import links

# What a caller sets on a step (and what a linked copy takes from its original).
STEP_FIELDS = ("name", "description", "type", "command", "runner", "run_as_user",
               "timeout_seconds")


def _after_last(pipeline: Pipeline) -> int:
    """The trigger order of a step added at the end of `pipeline`."""
    return max((s.trigger_order for s in pipeline.steps), default=0) + STEP_ORDER_GAP


class PipelineService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.pipelines = PipelineRepository(session)
        self.authorizer = Authorizer(session)

    async def get(self, principal: Principal, pipeline_id: int, permission: str) -> Pipeline:
        return await readable_pipeline(self.session, principal, pipeline_id, permission)

    async def list_for_resource(
        self, principal: Principal, page: PageParams, resource_type: str, resource_id: int
    ) -> Sequence[Pipeline]:
        await authorize_resource(self.session, principal, resource_type, resource_id,
                                 "pipeline:read")
        return await self.pipelines.list_for_resource(principal, page, resource_type, resource_id)

    async def create(
        self, principal: Principal, resource_type: str, resource_id: int, data: PipelineCreate
    ) -> Pipeline:
        scope = await authorize_resource(
            self.session, principal, resource_type, resource_id, "pipeline:create"
        )
        pipeline = Pipeline(
            name=data.name,
            resource_type=resource_type,
            resource_id=resource_id,
            operation=data.operation,
            max_parallel_actions=data.max_parallel_actions,
            trigger_when=data.trigger_when.model_dump() if data.trigger_when else None,
            is_default=False,
            environment_id=scope.environment_id,
            project_id=scope.project_id,
            organization_id=scope.organization_id,
            created_by=principal.user_id,
        )
        self.session.add(pipeline)
        await self.session.flush()
        return await self.get(principal, pipeline.id, "pipeline:read")

    async def update(self, principal: Principal, pipeline_id: int, data: PipelineUpdate) -> None:
        if data.id != pipeline_id:
            raise ValidationFailed.field("id", "The id must match the pipeline in the URL.")
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        pipeline.name = data.name
        if data.max_parallel_actions is not None:
            pipeline.max_parallel_actions = data.max_parallel_actions
        if "trigger_when" in data.model_fields_set:
            pipeline.trigger_when = data.trigger_when.model_dump() if data.trigger_when else None
        await self.session.flush()

    async def delete(self, principal: Principal, pipeline_id: int) -> None:
        pipeline = await self.get(principal, pipeline_id, "pipeline:delete")
        if pipeline.is_default:
            raise Forbidden("The default pipeline of an operation cannot be deleted.")
        await self.session.delete(pipeline)
        await self.session.flush()

    async def add_step(
        self, principal: Principal, pipeline_id: int, data: StepPipelineCreate
    ) -> PipelineStep:
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        step = PipelineStep(
            pipeline_id=pipeline.id, trigger_order=_after_last(pipeline),
            **{name: getattr(data, name) for name in STEP_FIELDS},
        )
        self.session.add(step)
        await self.session.flush()
        return step

    async def _step(self, pipeline: Pipeline, step_id: int) -> PipelineStep:
        step = await self.session.get(PipelineStep, step_id)
        if step is None or step.pipeline_id != pipeline.id:
            raise NotFound("Pipeline step not found.")
        return step

    async def update_step(
        self, principal: Principal, pipeline_id: int, step_id: int, data: StepPipelineUpdate
    ) -> None:
        if data.id != step_id:
            raise ValidationFailed.field("id", "The id must match the step in the URL.")
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        step = await self._step(pipeline, step_id)
        if step.is_default_step:
            raise Forbidden("A default step cannot be changed.")
        for name in STEP_FIELDS:
            if name in data.model_fields_set:
                setattr(step, name, getattr(data, name))
        if data.trigger_after is not None:
            # Between the step at `trigger_after` and the next one, renumbering if crowded.
            orders = sorted(
                s.trigger_order for s in pipeline.steps if s.id != step.id
            )
            following = [o for o in orders if o > data.trigger_after]
            upper = following[0] if following else data.trigger_after + 2 * STEP_ORDER_GAP
            if upper - data.trigger_after < 2:
                await self._renumber(pipeline)
                await self.update_step(principal, pipeline_id, step_id, data)
                return
            step.trigger_order = (data.trigger_after + upper) // 2
        await self.session.flush()

    async def _renumber(self, pipeline: Pipeline) -> None:
        for n, s in enumerate(pipeline.steps, 1):
            s.trigger_order = n * STEP_ORDER_GAP
        await self.session.flush()

    async def link_step(self, principal: Principal, pipeline_id: int, step_id: int) -> None:
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        step = await self.session.get(PipelineStep, step_id)
        if step is None:
            raise NotFound("Pipeline step not found.")
        if step.pipeline_id != pipeline.id:
            # Copying a step hands its command (secrets included) to this pipeline: the
            # caller must read the step's own pipeline, wherever it is (404 when they cannot
            # see it, 403 without pipeline:read there), and both share the project.
            try:
                source = await self.get(principal, step.pipeline_id, "pipeline:read")
            except NotFound:
                raise NotFound("Pipeline step not found.") from None
            if source.project_id != pipeline.project_id:
                raise NotFound("Pipeline step not found.")
        if step.pipeline_id == pipeline.id:
            if not step.linked:
                step.linked = True
                step.trigger_order = _after_last(pipeline)
        else:
            # A step of another pipeline of the same project is linked as a copy, so
            # editing one pipeline never changes what another runs.
            self.session.add(PipelineStep(
                pipeline_id=pipeline.id, trigger_order=_after_last(pipeline),
                **{name: getattr(step, name) for name in STEP_FIELDS},
            ))
        await self.session.flush()

    async def unlink_step(self, principal: Principal, pipeline_id: int, step_id: int) -> None:
        pipeline = await self.get(principal, pipeline_id, "pipeline:update")
        step = await self._step(pipeline, step_id)
        if step.is_default_step:
            raise Forbidden("A default step cannot be unlinked.")
        step.linked = False
        await self.session.flush()

    async def run(
        self,
        principal: Principal,
        pipeline_id: int,
        data: ActionPipelineCreate,
        ip_address: str | None,
    ) -> Action:
        pipeline = await self.get(principal, pipeline_id, "pipeline:read")
        # Running a pipeline is performing its operation on the resource.
        await authorize_scope(
            self.authorizer, principal, pipeline,
            operation_permission(pipeline.resource_type, pipeline.operation),
            "Pipeline not found.",
        )
        project = await self.session.get(Project, pipeline.project_id)
        if pipeline.operation == "deploy" and pipeline.environment_id is not None:
            # Running a deploy pipeline is a deploy: it links the servers it names, as the
            # resource's own deploy operation does.
            await links.link_deploy_targets(
                self.session, pipeline.resource_type, pipeline.resource_id,
                pipeline.environment_id, data.servers,
                link_first_server=pipeline.resource_type == "application", strict=False,
            )
        action_data = None
        if pipeline.operation == "deploy":
            asked = {key: value for key, value in (
                ("source_type", data.source_type), ("source_ref", data.source_ref)
            ) if value is not None}
            action_data = await deploy_action_data(
                self.session, pipeline.resource_type, pipeline.resource_id, pipeline.id, asked
            )
        action = await start_action(
            self.session,
            resource_type=pipeline.resource_type,
            resource_id=pipeline.resource_id,
            operation=pipeline.operation,
            triggered_by=principal,
            project_id=pipeline.project_id,
            environment_id=pipeline.environment_id,
            organization_id=project.organization_id if project else pipeline.organization_id,
            pipeline_id=pipeline.id,
            server_ids=data.servers,
            trigger_comment=data.trigger_comment,
            action_data=action_data,
            ip_address=ip_address,
        )
        return await ActionService(self.session).reload(action.id)
