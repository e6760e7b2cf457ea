"""Generated isolation test: every operation of the server, tried by another tenant.

The route table comes from the app's own OpenAPI document, so routes added by any later
issue are covered without touching this file, as long as their path parameters are in
`WORLD_BUILDERS` (an unknown parameter fails loudly with the name to add).

For every operation with path parameters, two attackers call it with the first user's ids:
- a second user, with their own personal access token and their own organization/project;
- a project API token of the second user's project, whose role holds every permission.
Both must get 404 (cannot see) or 403 (may see, may not act), never a success and never a
500, and the first user's data must be unchanged afterwards. Lists without path parameters
are called by the attackers too, and must not mention anything of the first user.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.permissions import ALL_PERMISSIONS
from app.core.settings import Settings
from app.environments.models import Environment
from app.main import create_app
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team, TeamInvitation, TeamLink, TeamMember
from app.tokens.models import ApiToken
from tests import reference
from tests.factories import (
    auth,
    create_environment,
    create_invitation,
    create_organization,
    create_pat,
    create_project,
    create_project_token,
    create_role,
    create_team,
    link_team,
    user_with_token,
)

# Every name the first tenant's data carries; no answer to an attacker may contain it.
MARKER = "alphatenant"

# Operations that are public by design (no caller to isolate) are listed here.
PUBLIC_OPERATIONS = frozenset(
    {
        "addUser",
        "resendVerificationUser",
        "verifyUser",
        "loginUser",
        "refreshTokenUser",
        "sendResetLinkUserPassword",
        "resetUserPassword",
    }
)


@dataclass
class World:
    """The first tenant's resources, addressed by path parameter name."""

    params: dict[str, str] = field(default_factory=dict)
    owner_token: str = ""
    # Ids of the first tenant's rows, for checking afterwards that nothing changed.
    objects: dict[str, int] = field(default_factory=dict)


Builder = Callable[[AsyncSession, World], Awaitable[None]]


async def _tenancy(db: AsyncSession, world: World) -> None:
    owner, owner_token = await user_with_token(db, name=f"{MARKER} owner")
    world.owner_token = owner_token
    org = await create_organization(db, owner)
    org.name, org.url_slug = f"{MARKER} org", f"{MARKER}-org"
    await db.commit()
    project = await create_project(db, owner, organization=org)
    project.name = f"{MARKER} project"
    environment = await create_environment(db, project, name=f"{MARKER}-env")
    team = await create_team(db, organization=org, members=(owner,), creator=owner)
    team.name = f"{MARKER} team"
    role = await create_role(
        db, permissions=["environment:read"], name=f"{MARKER} role", organization=org
    )
    await link_team(db, team, role, environment=environment)
    invitation = await create_invitation(
        db, team, email=f"{MARKER}-invitee@example.com", creator=owner
    )
    pat, _ = await create_pat(db, owner)
    full = await create_role(db, permissions=sorted(ALL_PERMISSIONS), name=f"{MARKER} all")
    project_token, _ = await create_project_token(db, project, full, owner)
    await db.commit()
    world.params.update(
        organization_id=str(org.id),
        project_id=str(project.id),
        environment_id=str(environment.id),
        team_id=str(team.id),
        role_id=str(role.id),
        user_id=str(owner.id),
        team_invitation_id=invitation.id,
        personal_access_token_id=pat.id,
        token_id=project_token.id,
    )
    world.objects.update(
        owner=owner.id,
        organization=org.id,
        project=project.id,
        environment=environment.id,
        team=team.id,
        role=role.id,
    )


async def _actions(db: AsyncSession, world: World) -> None:
    """A pipeline with a step, and a finished action with a target, a step and its log."""
    from app.actions.models import (
        Action,
        ActionLogChunk,
        ActionStep,
        ActionTarget,
        Pipeline,
        PipelineStep,
    )

    environment_id = world.objects["environment"]
    project_id = world.objects["project"]
    pipeline = Pipeline(
        name=f"{MARKER} pipeline", resource_type="application", resource_id=4242,
        operation="deploy", environment_id=environment_id, project_id=project_id,
        organization_id=world.objects["organization"], created_by=world.objects["owner"],
    )
    db.add(pipeline)
    await db.flush()
    step = PipelineStep(
        pipeline_id=pipeline.id, name=f"{MARKER} step", command=f"echo {MARKER}",
        trigger_order=1000,
    )
    action = Action(
        type="deploy", status="failed", status_reason_code="FAILED", resource_type="application",
        resource_id=4242, pipeline_id=pipeline.id, environment_id=environment_id,
        project_id=project_id, trigger_comment=f"{MARKER} comment",
        triggered_from={"name": MARKER}, triggered_by=world.objects["owner"],
    )
    db.add_all([step, action])
    await db.flush()
    from app.actions.targets import ServerAccess

    server = ServerAccess(server_id=4343, host="192.0.2.1", port=22, username="root",
                          private_key="", os_version_code="ubuntu_24_04")
    target = ActionTarget(
        action_id=action.id, resource_id=4343, server_id=4343, status="failed",
        status_reason_code="FAILED", total_steps=1, resource_data=server.resource_data(),
    )
    db.add(target)
    await db.flush()
    action_step = ActionStep(
        action_id=action.id, action_target_id=target.id, order=1, command=f"echo {MARKER}",
        status="failed", status_reason_code="FAILED",
    )
    db.add(action_step)
    await db.flush()
    db.add_all([
        ActionLogChunk(action_step_id=action_step.id, seq=1, data=f"{MARKER} output"),
        ActionLogChunk(action_step_id=action_step.id, seq=2, data="", final=True),
    ])
    await db.commit()
    world.params.update(
        action_id=str(action.id), action_target_id=str(target.id), action_step_order="1",
        pipeline_id=str(pipeline.id), step_id=str(step.id), resource_type="application",
        resource_id="4242", target_resource_type="server", target_resource_id="4343",
    )


# Later issues append a builder that adds their resources' path parameters to the world.
WORLD_BUILDERS: list[Builder] = [_tenancy, _actions]


async def build_world(db: AsyncSession) -> World:
    world = World()
    for builder in WORLD_BUILDERS:
        await builder(db, world)
    return world


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    operation_id: str
    has_body: bool


def _operations() -> list[Op]:
    document = create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]
    ops = []
    for path, item in document["paths"].items():
        for method, spec in item.items():
            ops.append(Op(method.upper(), path, spec.get("operationId", ""), "requestBody" in spec))
    return sorted(ops, key=lambda o: (o.path, o.method))


OPERATIONS = _operations()
WITH_PARAMS = [o for o in OPERATIONS if "{" in o.path and o.operation_id not in PUBLIC_OPERATIONS]
WITHOUT_PARAMS = [
    o
    for o in OPERATIONS
    if "{" not in o.path and o.method == "GET" and o.operation_id not in PUBLIC_OPERATIONS
]


def _fill(path: str, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in world.params:
            pytest.fail(
                f"{path}: no fixture for path parameter {name!r}; add a builder to "
                "WORLD_BUILDERS in tests/tenancy/test_isolation.py"
            )
        return world.params[name]

    return re.sub(r"\{(\w+)\}", value, path)


def _resolve(schema: Any, doc: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _example(schema: Any, doc: dict[str, Any]) -> Any:
    schema = _resolve(schema, doc)
    if not isinstance(schema, dict):
        return None
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("allOf", "oneOf", "anyOf"):
        if key in schema:
            return _example(schema[key][0], doc)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: _example(prop, doc) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "boolean":
        return True
    return f"{MARKER}-value"


def _body(op: Op, world: World) -> dict[str, Any] | None:
    """A valid request body, from the reference's examples, aimed at the first tenant."""
    if not op.has_body:
        return None
    body: dict[str, Any] = {}
    current, older = reference.documents()
    for doc in (current, older):
        spec = doc["paths"].get(op.path, {}).get(op.method.lower(), {})
        schema = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "schema" in schema:
            example = _example(schema["schema"], doc)
            body = example if isinstance(example, dict) else {}
            break
    last_param = re.findall(r"\{(\w+)\}", op.path)
    if "id" in body and last_param:
        raw = world.params[last_param[0] if len(last_param) == 1 else last_param[-1]]
        body["id"] = int(raw) if raw.isdigit() and not isinstance(body["id"], str) else raw
    if "role_id" in body:
        body["role_id"] = int(world.params["role_id"])
    if "expires_at" in body:
        body["expires_at"] = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    if "email" in body:
        body["email"] = "someone-else@example.com"
    if "url_slug" in body:
        body["url_slug"] = "intruder-slug"
    if "permissions" in body:
        body["permissions"] = ["server:read"]
    return body


@dataclass
class Attackers:
    user_token: str
    project_token: str


async def _attackers(db: AsyncSession) -> Attackers:
    intruder, intruder_token = await user_with_token(db)
    org = await create_organization(db, intruder)
    project = await create_project(db, intruder, organization=org)
    await create_environment(db, project)
    full = await create_role(db, permissions=sorted(ALL_PERMISSIONS))
    _, project_token = await create_project_token(db, project, full, intruder)
    return Attackers(intruder_token, project_token)


async def _snapshot(db: AsyncSession, world: World) -> dict[str, Any]:
    db.expire_all()
    o = world.objects
    org = await db.get(Organization, o["organization"])
    project = await db.get(Project, o["project"])
    env = await db.get(Environment, o["environment"])
    team = await db.get(Team, o["team"])
    role = await db.get(Role, o["role"])
    return {
        "organization": (org.name, org.url_slug) if org else None,
        "project": project.name if project else None,
        "environment": (env.name, env.type, env.archived_at) if env else None,
        "team": team.name if team else None,
        "role": (role.name, role.permissions) if role else None,
        "members": await db.scalar(select(func.count()).select_from(TeamMember)),
        "links": await db.scalar(select(func.count()).select_from(TeamLink)),
        "environments": await db.scalar(
            select(func.count()).where(Environment.project_id == o["project"])
        ),
        "projects": await db.scalar(
            select(func.count()).where(Project.organization_id == o["organization"])
        ),
        "roles": await db.scalar(select(func.count()).select_from(Role)),
        "invitations": [
            (i.status, i.email) for i in (await db.scalars(select(TeamInvitation))).all()
        ],
        "tokens": [
            (t.id, t.revoked_at, t.token_hash)
            for t in (
                await db.scalars(select(ApiToken).where(ApiToken.user_id == o["owner"]))
            ).all()
        ],
    }


def test_every_operation_is_checked() -> None:
    """Guards the generator itself: it sees this branch's routes."""
    ids = {o.operation_id for o in WITH_PARAMS}
    assert {"getProject", "getEnvironment", "deleteOrganization", "getTeam"} <= ids


@pytest.mark.parametrize("op", WITH_PARAMS, ids=lambda o: f"{o.method} {o.path}")
async def test_other_tenants_cannot_reach_first_tenants_data(
    op: Op, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    attackers = await _attackers(db)
    path = _fill(op.path, world)
    body = _body(op, world)
    before = await _snapshot(db, world)

    if op.method == "GET":
        # The fixture is real: the owner reads it.
        r = await client.get(path, headers=auth(world.owner_token))
        assert r.status_code == 200, f"owner cannot read {path}: {r.status_code} {r.text}"

    for who, token in (
        ("second user", attackers.user_token),
        ("project token", attackers.project_token),
    ):
        kwargs: dict[str, Any] = {"headers": auth(token)}
        if body is not None:
            kwargs["json"] = body
        r = await client.request(op.method, path, **kwargs)
        assert r.status_code in (403, 404), (
            f"{who}: {op.method} {path} answered {r.status_code}: {r.text[:300]}"
        )
        assert MARKER not in r.text, f"{who}: {op.method} {path} leaked: {r.text[:300]}"

    assert await _snapshot(db, world) == before, f"{op.method} {path} changed the data"


@pytest.mark.parametrize("op", WITHOUT_PARAMS, ids=lambda o: f"{o.method} {o.path}")
async def test_lists_never_show_first_tenants_data(
    op: Op, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await build_world(db)
    attackers = await _attackers(db)
    for who, token in (
        ("second user", attackers.user_token),
        ("project token", attackers.project_token),
    ):
        r = await client.get(op.path, headers=auth(token))
        assert r.status_code < 500, f"{who}: GET {op.path}: {r.status_code}"
        assert MARKER not in r.text, f"{who}: GET {op.path} leaked: {r.text[:300]}"
