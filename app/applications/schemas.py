from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.core import outbound
from app.core.schemas import RequestModel, Timestamp
from app.credentials.schemas import CredentialRelation
from app.resources_common import validators
from app.resources_common.fields import ONE_LINE, blank_as_none, line
from app.resources_common.relations import (
    ApplicationBase,
    CronJobRelation,
    DaemonRelation,
    ServerRelation,
    ServiceRelation,
    VirtualHostRelation,
)
from app.resources_common.relations import ApplicationRelation as ApplicationRelation
from app.resources_common.schemas import EnvironmentRelation, Id, LinkedResources, TriggerComment
from app.static_options.catalog import LANGUAGE_RUNTIMES
from app.users.schemas import UserRelation


def _text(max_length: int, min_length: int = 1) -> Any:
    return line(min_length, max_length)


# `owner/name` on the credential's provider (the reference), or, for code kept on one's own
# hosts (Gitea, GitLab, a bare repository), any git URL the servers can reach: https://,
# ssh://, git://, file://, scp-like `user@host:path`, or an absolute path on the server.
Repository = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=255,
        pattern=(
            r"^(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"
            r"|(?:https?|ssh|git|file)://[^\s'\"`$\\]+"
            r"|[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:[^\s'\"`$\\]+"
            r"|/[^\s'\"`$\\]+)$"
        ),
    ),
    ONE_LINE,
    # The outbound policy: a repository never points a server's fetch at an internal host.
    AfterValidator(lambda v: outbound.check_url_host(v)),
]
RootDirectory = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=0, max_length=255),
    ONE_LINE,
]
Command = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=0, max_length=1024),
    ONE_LINE,
]


class _ApplicationFields(RequestModel):
    # Declared before framework, whose allowed values depend on it.
    programming_language: _text(30)  # type: ignore[valid-type]
    framework: _text(30)  # type: ignore[valid-type]
    name: _text(60)  # type: ignore[valid-type]
    build_command: Command | None = None
    engine_version: _text(10)  # type: ignore[valid-type]
    root_directory: Annotated[RootDirectory | None, BeforeValidator(blank_as_none)] = None
    default_branch: _text(200)  # type: ignore[valid-type]
    deployments_keep: Annotated[int, Field(ge=1, le=10)] | None = None
    install_dependencies_command: Command | None = None

    _root = field_validator("root_directory")(
        lambda v: None if v is None else validators.validate_absolute_path(v)
    )

    @field_validator("programming_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGE_RUNTIMES:
            raise ValueError("must be one of " + ", ".join(LANGUAGE_RUNTIMES))
        return value

    @field_validator("framework")
    @classmethod
    def _framework(cls, value: str, info: ValidationInfo) -> str:
        language = info.data.get("programming_language")
        if language is not None and value not in LANGUAGE_RUNTIMES[language][2]:
            raise ValueError(
                f"must be one of {', '.join(LANGUAGE_RUNTIMES[language][2])} for {language}"
            )
        return value


class ApplicationEnvironmentCreate(_ApplicationFields):
    linked_resources: LinkedResources = Field(default_factory=list)
    repository: Repository
    credential_id: Id


class ApplicationUpdate(_ApplicationFields):
    id: Id
    repository: Repository | None = None
    credential_id: Id | None = None


class DeploymentApplicationCreate(RequestModel):
    type: Literal["deploy", "redeploy", "rollback"]
    environment: Annotated[str, StringConstraints(max_length=60), ONE_LINE] | None = None
    source_type: Literal["branch", "tag", "commit"] | None = None
    source_ref: Annotated[
        str, StringConstraints(min_length=1, max_length=200), ONE_LINE
    ] | None = Field(
        default=None, validate_default=True
    )
    pipeline_id: Id | None = None
    servers: Annotated[list[Id], Field(max_length=100)] | None = None
    trigger_comment: TriggerComment | None = None

    @field_validator("source_ref")
    @classmethod
    def _source(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("source_type") is not None and value is None:
            raise ValueError("required when source_type is present")
        return value


class ApplicationEnvironmentApplyTemplate(RequestModel):
    template_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    template_inputs: dict[str, Any]
    template: Annotated[str, StringConstraints(min_length=1, max_length=21504)] | None = None
    dry_run: bool = False


class Application(ApplicationBase):
    root_directory: str
    created_by_user: UserRelation
    last_deployments: dict[str, Any]
    environment: EnvironmentRelation
    servers: list[ServerRelation]
    credential: CredentialRelation | None
    services: list[ServiceRelation]
    cronjobs: list[CronJobRelation]
    virtual_hosts: list[VirtualHostRelation]
    daemons: list[DaemonRelation]
    created_at: Timestamp
    updated_at: Timestamp
