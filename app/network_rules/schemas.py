from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from app.core.schemas import RequestModel, Timestamp
from app.network_rules.models import NetworkRuleDirection, NetworkRuleProtocol
from app.resources_common import validators
from app.resources_common.fields import ONE_LINE, Port
from app.resources_common.relations import NetworkRuleBase, ServerRelation
from app.resources_common.relations import NetworkRuleRelation as NetworkRuleRelation
from app.resources_common.schemas import EnvironmentRelation, Id, LinkedResources
from app.users.schemas import UserRelation

RuleName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=60),
    ONE_LINE,
]
Cidr = Annotated[str, StringConstraints(max_length=64), ONE_LINE,
                 AfterValidator(validators.validate_cidr)]


class NetworkRuleEnvironmentCreate(RequestModel):
    linked_resources: LinkedResources = Field(default_factory=list)
    name: RuleName
    direction: NetworkRuleDirection
    protocol: NetworkRuleProtocol
    cidr_block: Cidr
    port: Port


class NetworkRuleUpdate(RequestModel):
    id: Id
    name: RuleName
    direction: NetworkRuleDirection
    protocol: NetworkRuleProtocol | None = None
    cidr_block: Cidr


class NetworkRule(NetworkRuleBase):
    direction: NetworkRuleDirection
    protocol: NetworkRuleProtocol
    created_by_user: UserRelation
    environment: EnvironmentRelation
    servers: list[ServerRelation]
    created_at: Timestamp
    updated_at: Timestamp
