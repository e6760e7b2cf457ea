"""The permission catalogue: every `<resource>:<operation>` a role can hold, and the rules
that read it (which permission an operation needs, which a permission presupposes).

`GET /static/permissions` serves `CATALOGUE`; roles draw from it; the `Authorizer`
(`app.access.permissions`) checks callers against the sets built here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    name: str
    human_readable: str
    hint: str


@dataclass(frozen=True)
class ResourcePermissions:
    resource_type: str
    human_readable: str
    operations: tuple[Operation, ...]


_CRUD = (
    Operation("read", "View", "See {plural} and their details"),
    Operation("create", "Add", "Add new {plural}"),
    Operation("update", "Edit", "Change existing {plural}"),
    Operation("delete", "Remove", "Delete {plural}"),
)
_EXTRA = {
    "deploy": Operation("deploy", "Deploy", "Deploy {plural} to their servers"),
    "start": Operation("start", "Start", "Start {plural}"),
    "stop": Operation("stop", "Stop", "Stop {plural}"),
    "restart": Operation("restart", "Restart", "Restart {plural}"),
    "reload": Operation("reload", "Reload", "Reload the configuration of {plural}"),
    "get-status": Operation("get-status", "Get status", "Refresh the status of {plural}"),
    "rotate-key": Operation("rotate-key", "Rotate key", "Replace the SSH key of {plural}"),
    "archive": Operation("archive", "Archive", "Archive and unarchive {plural}"),
    "retry": Operation("retry", "Retry", "Retry failed {plural}"),
    "trigger": Operation("trigger", "Trigger", "Trigger {plural}"),
}

# resource type -> (human readable, plural for hints, operations beyond read/create/update/delete)
_RESOURCES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("organization", "Organization", "organizations", ()),
    ("project", "Project", "projects", ()),
    ("environment", "Environment", "environments", ("archive",)),
    ("team", "Team", "teams", ()),
    ("role", "Role", "roles", ()),
    ("api_token", "API Token", "API tokens", ()),
    (
        "server",
        "Server",
        "servers",
        ("deploy", "start", "stop", "restart", "get-status", "rotate-key"),
    ),
    ("application", "Application", "applications", ("deploy",)),
    (
        "service",
        "Service",
        "services",
        ("deploy", "start", "stop", "restart", "reload", "get-status"),
    ),
    ("daemon", "Daemon", "daemons", ("deploy", "start", "stop", "restart", "get-status")),
    ("cronjob", "Cron Job", "cron jobs", ("deploy",)),
    ("credential", "Credential", "credentials", ("get-status",)),
    ("network", "Network", "networks", ("get-status",)),
    ("network-rule", "Network Rule", "network rules", ("deploy",)),
    ("subnet", "Subnet", "subnets", ()),
    ("ssh-key", "SSH Key", "SSH keys", ("deploy",)),
    ("ssl-certificate", "SSL Certificate", "SSL certificates", ("deploy",)),
    ("virtual-host", "Virtual Host", "virtual hosts", ("deploy", "get-status")),
    ("variable", "Variable", "variables", ()),
    ("pipeline", "Pipeline", "pipelines", ()),
    ("hook", "Hook", "hooks", ("trigger",)),
    ("action", "Action", "actions", ("retry",)),
)


def _build_catalogue() -> tuple[ResourcePermissions, ...]:
    out = []
    for resource_type, human, plural, extra in _RESOURCES:
        ops = tuple(
            Operation(op.name, op.human_readable, op.hint.format(plural=plural))
            for op in (*_CRUD, *(_EXTRA[name] for name in extra))
        )
        out.append(ResourcePermissions(resource_type, human, ops))
    return tuple(out)


CATALOGUE: tuple[ResourcePermissions, ...] = _build_catalogue()
"""The single permission catalogue: `GET /static/permissions` serves it, roles draw from it."""

ALL_PERMISSIONS: frozenset[str] = frozenset(
    f"{r.resource_type}:{op.name}" for r in CATALOGUE for op in r.operations
)

# Operations that only a person may perform, whatever a token's role says: a token that
# could mint tokens could escalate its own rights.
USER_ONLY_PERMISSIONS = frozenset(
    {"api_token:create", "api_token:read", "api_token:update", "api_token:delete"}
)

OPERATE = ("deploy", "start", "stop", "restart", "reload", "get-status", "trigger", "retry")

READ_PERMISSIONS = frozenset(p for p in ALL_PERMISSIONS if p.endswith(":read"))
DEPLOY_PERMISSIONS = READ_PERMISSIONS | frozenset(
    p for p in ALL_PERMISSIONS if p.split(":", 1)[1] in OPERATE
)


# Action types that need another operation's permission: taking a resource off its servers
# is part of deleting it.
_OPERATION_PERMISSION_ALIASES = {"remove": "delete"}


def operation_permission(resource_type: str, operation: str) -> str:
    """The one permission an operation on a resource needs (`get_status` ->
    `server:get-status`), whether it is started, run from a pipeline, retried or cancelled.
    Operations the catalogue does not name (provision, configure...) change the resource."""
    name = operation.replace("_", "-")
    permission = f"{resource_type}:{_OPERATION_PERMISSION_ALIASES.get(name, name)}"
    return permission if permission in ALL_PERMISSIONS else f"{resource_type}:update"


def required_permissions(permission: str) -> list[str]:
    """Acting on a resource type presupposes seeing it."""
    resource_type, operation = permission.split(":", 1)
    return [] if operation == "read" else [f"{resource_type}:read"]


def unknown_permissions(permissions: Iterable[str]) -> list[str]:
    return sorted(set(permissions) - ALL_PERMISSIONS)


def permission_verb(permission: str) -> str:
    resource_type, _, operation = permission.partition(":")
    return f"{operation} {resource_type.replace('_', ' ').replace('-', ' ')}"

