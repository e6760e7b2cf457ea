"""Applications: source code deployed from a repository to the environment's servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.actions.models import Action, Pipeline
from app.actions.repository import PipelineRepository
from app.actions.start import register_deploy_data
from app.applications.models import Application
from app.applications.remote import deployment_data
from app.applications.repository import ApplicationRepository
from app.applications.schemas import (
    ApplicationEnvironmentApplyTemplate,
    ApplicationEnvironmentCreate,
    ApplicationUpdate,
    DeploymentApplicationCreate,
)
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import PageParams
from app.resources_common.names import check_name_free
from app.resources_common.operations import start_operation
from app.resources_common.service import (
    EnvironmentResourceService,
    check_body_id,
    linked_server_ids,
    ownership,
)


class ApplicationService(EnvironmentResourceService[Application]):
    label = "Application"
    resource_type = "application"

    def __init__(self, session: AsyncSession) -> None:
        self.applications = ApplicationRepository(session)
        super().__init__(session, self.applications)

    async def search(self, principal: Principal, environment_id: int, name: str,
                     page: PageParams) -> Sequence[Application]:
        await self.access.environment(principal, environment_id, self.permission("read"))
        return await self.applications.search_in_environment(environment_id, name, page)

    async def create(
        self, principal: Principal, environment_id: int, data: ApplicationEnvironmentCreate
    ) -> Application:
        environment = await self.environment_for_create(principal, environment_id)
        await check_name_free(self.applications, environment_id, data.name)
        server_ids = await linked_server_ids(
            self.session, environment_id, data.linked_resources, principal
        )
        await self.access.source_credential(
            principal, data.credential_id, environment_id=environment_id
        )
        application = Application(
            **ownership(environment, principal),
            name=data.name,
            repository=data.repository,
            default_branch=data.default_branch,
            programming_language=data.programming_language,
            engine_version=data.engine_version,
            framework=data.framework,
            root_directory=data.root_directory or "/",
            deployments_keep=data.deployments_keep or 5,
            install_dependencies_command=data.install_dependencies_command,
            build_command=data.build_command,
            credential_id=data.credential_id,
        )
        return await self.add_linked(application, server_ids)

    async def update(self, principal: Principal, application_id: int, data: ApplicationUpdate
                     ) -> None:
        check_body_id(data.id, application_id)
        application = await self.get(principal, application_id, "update")
        await check_name_free(self.applications, application.environment_id, data.name,
                              application.id)
        fields = data.model_fields_set
        application.name = data.name
        application.engine_version = data.engine_version
        application.framework = data.framework
        application.programming_language = data.programming_language
        application.default_branch = data.default_branch
        if "repository" in fields and data.repository is not None:
            application.repository = data.repository
            if data.credential_id is None and "credential_id" not in fields:
                raise ValidationFailed.field(
                    "credential_id", "The credential id field is required when repository is "
                    "present."
                )
        if "credential_id" in fields and data.credential_id is not None:
            application.credential_id = await self.access.source_credential(
                principal, data.credential_id, environment_id=application.environment_id
            )
        for name in ("build_command", "install_dependencies_command"):
            if name in fields:
                setattr(application, name, getattr(data, name))
        if "root_directory" in fields:
            application.root_directory = data.root_directory or "/"
        if "deployments_keep" in fields and data.deployments_keep is not None:
            application.deployments_keep = data.deployments_keep
        await self.session.flush()

    async def check_delete(self, resource: Application) -> None:
        dependents = [
            f"{len(items)} {label}"
            for label, items in (
                ("daemon(s)", resource.daemons),
                ("cron job(s)", resource.cronjobs),
                ("virtual host(s)", resource.virtual_hosts),
            )
            if items
        ]
        if dependents:
            raise Conflict(
                "The application cannot be deleted while "
                + ", ".join(dependents)
                + " belong to it; delete or unlink them first."
            )

    async def apply_template(
        self, principal: Principal, environment_id: int, data: ApplicationEnvironmentApplyTemplate
    ) -> NoReturn:
        """Templates are not offered here (the catalogue in /static/application-options is
        empty), so every request is answered with the field that cannot be satisfied."""
        await self.environment_for_create(principal, environment_id)
        if data.template is not None:
            raise ValidationFailed.field(
                "template", "Custom template manifests are not supported by this server."
            )
        if data.template_id is not None:
            raise ValidationFailed.field(
                "template_id",
                f"Unknown template {data.template_id!r}: this server offers no templates.",
            )
        raise ValidationFailed.field("template_id", "The template id field is required.")

    async def deploy(
        self, principal: Principal, application_id: int, data: DeploymentApplicationCreate
    ) -> int:
        """Start a deployment (see `app.applications.remote`); the action's `action_data`
        holds what was asked for, then the deployed commit and release."""
        application = await self.get(principal, application_id, "deploy")
        pipeline_id: int | None
        if data.pipeline_id is not None:
            pipeline_id = await self._deploy_pipeline(principal, application, data.pipeline_id)
        else:
            default = await PipelineRepository(self.session).default_for(
                self.resource_type, application.id, "deploy")
            pipeline_id = default.id if default is not None else None
        action_data = await deployment_data(
            self.session, application, data.type, data.source_type, data.source_ref
        )
        if pipeline_id is not None:
            action_data["deployment"]["pipeline_id"] = pipeline_id
        action_id = await start_operation(
            self.session,
            principal,
            self.resource_type,
            application.id,
            "deploy",
            environment_id=application.environment_id,
            project_id=application.project_id,
            servers=data.servers,
            trigger_comment=data.trigger_comment,
            action_data=action_data,
            pipeline_id=pipeline_id,
        )
        if pipeline_id is not None:
            return action_id
        action = await self.session.get(Action, action_id)
        if action is not None and action.pipeline_id is not None:
            # A default pipeline made by this deploy (an application from before the
            # deploy had one) is only known once the action exists.
            deployment = dict(action_data["deployment"], pipeline_id=action.pipeline_id)
            action.action_data = dict(action_data, deployment=deployment)
            await self.session.flush()
        return action_id

    async def _deploy_pipeline(
        self, principal: Principal, application: Application, pipeline_id: int
    ) -> int:
        """A pipeline chosen for a deployment: one of this application's deploy pipelines,
        readable by the caller."""
        await self.access.reference(
            principal, "pipeline", pipeline_id, field="pipeline_id",
            environment_id=application.environment_id,
        )
        pipeline = await self.session.get(Pipeline, pipeline_id)
        if pipeline is None or (pipeline.resource_type, pipeline.resource_id,
                                pipeline.operation) != ("application", application.id, "deploy"):
            raise ValidationFailed.field(
                "pipeline_id", "The pipeline is not a deploy pipeline of this application."
            )
        return pipeline_id


async def pipeline_deployment_data(
    session: AsyncSession, application_id: int, pipeline_id: int | None,
    variables: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The `action_data` of a deploy started by running the deploy pipeline or by an
    incoming hook: the ref asked for (`source_type`, `source_ref`; the default branch
    otherwise), as a deploy through the application's own endpoint records it, so the
    deploy fetches that ref and the action reads like any other."""
    application = await session.get(Application, application_id)
    if application is None:
        return None
    asked = {key: variables[key] for key in ("source_type", "source_ref") if key in variables}
    try:
        request = DeploymentApplicationCreate.model_validate({"type": "deploy", **asked})
    except PydanticValidationError as exc:
        raise ValidationFailed(
            "The hook's variables do not name a deployable ref.",
            {f"variables.{'.'.join(map(str, e['loc']))}": [e["msg"]] for e in exc.errors()},
        ) from None
    data = await deployment_data(
        session, application, "deploy", request.source_type, request.source_ref
    )
    data["deployment"]["pipeline_id"] = pipeline_id or 0
    return data


register_deploy_data("application", pipeline_deployment_data)
