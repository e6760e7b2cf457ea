from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import RequestModel, Timestamp
from app.resources_common.fields import ONE_LINE
from app.resources_common.relations import ServerRelation, SshKeyBase
from app.resources_common.relations import SshKeyRelation as SshKeyRelation
from app.resources_common.schemas import EnvironmentRelation, Id, LinkedResources
from app.users.schemas import UserRelation

KeyName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60),
    ONE_LINE,
]


class SshKeyEnvironmentCreate(RequestModel):
    linked_resources: LinkedResources = Field(default_factory=list)
    name: KeyName
    # Parsed in the service: the parsed key (type, fingerprints) is what gets stored.
    public_key: Annotated[str, StringConstraints(min_length=1, max_length=16384), ONE_LINE]


class SshKeyUpdate(RequestModel):
    id: Id
    name: KeyName


class SshKey(SshKeyBase):
    created_by_user: UserRelation
    environment: EnvironmentRelation
    servers: list[ServerRelation]
    last_action: None = None
    created_at: Timestamp
    updated_at: Timestamp
