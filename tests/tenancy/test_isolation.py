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

from app.access.catalogue import ALL_PERMISSIONS
from app.core.settings import Settings
from app.environments.models import Environment
from app.main import create_app
from app.organizations.models import Organization
from app.projects.models import Project
from app.roles.models import Role
from app.teams.models import Team, TeamInvitation, TeamLink, TeamMember
from app.tokens.models import ApiToken
from app.users.models import User
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
        # Called by a machine being connected, with no bearer token: always 401 here (this
        # server issues no activation tokens; see getServerCommands).
        "connectServer",
        "verifyUser",
        "loginUser",
        "refreshTokenUser",
        "sendResetLinkUserPassword",
        "resetUserPassword",
        # An incoming hook's unguessable URL is its key: no caller, by design.
        "triggerHook",
        # Where a git host sends the browser back after OAuth: it only echoes the code.
        "oauthCallback",
        # The same static catalogue for every caller: no tenant data in it.
        "getStaticCloudProviderService",
        "listStaticCloudInstancesByCloudProviderServiceCodeAndRegionCode",
        # About the caller's own account on a provider, whoever the caller is.
        "getSocialAccountStatus",
    }
)

# Owner reads that ask a provider (a git host) over the network: attackers are still
# checked, the owner's read is not (no provider answers in this test).
ASKS_A_PROVIDER = frozenset({"listCredentialRepositories", "getCredentialRepository"})


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


async def _credentials_and_networks(db: AsyncSession, world: World) -> None:
    """Issue 5: credentials, networks, subnets, links, events, hooks, social accounts."""
    import uuid

    from app.core.security import SecretBox
    from app.credentials.models import Credential, CredentialEnvironment
    from app.credentials.secrets import seal
    from app.events.audit import record_event
    from app.hooks.models import Hook, HookRequest
    from app.networks.models import Network, Subnet
    from app.resource_links.models import ResourceLink
    from app.social_accounts.models import SocialAccount
    from tests.conftest import TEST_SECRET_KEY

    box = SecretBox(Settings(secret_key=TEST_SECRET_KEY, _env_file=None))  # type: ignore[call-arg]
    o = world.objects
    credential = Credential(
        name=f"{MARKER} aws", provider_code="aws", provider_type="cloud_provider",
        auth_type="api_credentials", active=True, organization_id=o["organization"],
        created_by=o["owner"],
        settings_encrypted=seal(box, {"access_key_id": "AKIAALPHA0000000000",
                                      "secret_access_key": "alpha-secret-key-000"}),
    )
    db.add(credential)
    await db.flush()
    db.add(CredentialEnvironment(credential_id=credential.id, environment_id=o["environment"]))
    network = Network(
        environment_id=o["environment"], project_id=o["project"], credential_id=credential.id,
        name=f"{MARKER}-vpc", provider_name="aws", cloud_service_code="aws-ec2",
        region="us-east-1", cidr_block="10.0.0.0/16", created_by=o["owner"],
    )
    db.add(network)
    await db.flush()
    subnet = Subnet(
        network_id=network.id, environment_id=o["environment"], project_id=o["project"],
        credential_id=credential.id, name=f"{MARKER}-subnet", region="us-east-1",
        zone="us-east-1a", cidr_block="10.0.1.0/24", created_by=o["owner"],
    )
    db.add(subnet)
    await db.flush()
    db.add(ResourceLink(parent_type="network", parent_id=network.id, child_type="subnet",
                        child_id=subnet.id, can_be_unlinked=True,
                        environment_id=o["environment"]))
    record_event(db, None, "10.9.9.9", "network", network.id, "created",
                 message=f"{MARKER} created")
    # The hook triggers the real pipeline the actions builder made.
    pipeline_id = int(world.params["pipeline_id"])
    hook = Hook(
        id=str(uuid.uuid4()), type="in", name=f"{MARKER} hook", action_type="deploy",
        pipeline_id=pipeline_id, environment_id=o["environment"], project_id=o["project"],
        resource_type="network", resource_id=network.id,
        secret_encrypted=box.encrypt("alpha-hook-secret"), settings={}, trigger_when={},
        created_by=o["owner"],
    )
    db.add(hook)
    await db.flush()
    request = HookRequest(
        id=str(uuid.uuid4()), hook_id=hook.id, ip_address="10.0.0.1",
        url=f"http://testserver/hooks/{hook.id}/trigger", request_headers={},
        request_body={"who": MARKER}, response_status_code=409, response_headers={},
        response_body={"message": "engine"},
    )
    account = SocialAccount(
        user_id=o["owner"], provider="github", provider_user_id="1",
        provider_user_nickname=f"{MARKER}-gh", token_encrypted=box.encrypt("gho_alpha"),
    )
    db.add_all([request, account])
    await db.commit()
    world.params.update(
        credential_id=str(credential.id),
        provider_code="aws",
        repository_owner="octo",
        repository_name="repo",
        network_id=str(network.id),
        subnet_id=str(subnet.id),
        child_type="subnet",
        child_id=str(subnet.id),
        link_type="child",
        hook_type="incoming",
        hook_id=hook.id,
        hook_request_id=request.id,
        social_account_id=str(account.id),
        social_account_provider="github",
    )




async def _resources(db: AsyncSession, world: World) -> None:
    """Environment resources (issue 4), one of each, in the first tenant's environment."""
    from tests import resource_factories as rf

    environment = await db.get(Environment, world.objects["environment"])
    project = await db.get(Project, world.objects["project"])
    owner = await db.get(User, world.objects["owner"])
    assert environment is not None and project is not None and owner is not None
    tenant = rf.Tenant(owner, world.owner_token, project, environment)
    server = await rf.create_server(db, tenant, hostname=f"{MARKER}-srv", name=f"{MARKER}-srv")
    application = await rf.create_application(db, tenant, name=f"{MARKER}-app")
    service = await rf.create_service(db, tenant, name=f"{MARKER}-svc")
    daemon = await rf.create_daemon(db, tenant, name=f"{MARKER}-daemon")
    cron_job = await rf.create_cron_job(db, tenant, name=f"{MARKER}-cron")
    host = await rf.create_virtual_host(db, tenant, name=f"{MARKER}.example.com")
    certificate = await rf.create_ssl_certificate(
        db, tenant, virtual_host_id=host.id, name=f"{MARKER}.example.com"
    )
    rule = await rf.create_network_rule(db, tenant, name=f"{MARKER} rule")
    key = await rf.create_ssh_key(db, tenant, name=f"{MARKER}-key")
    for resource_type, resource in (("application", application), ("service", service),
                                    ("daemon", daemon), ("cronjob", cron_job),
                                    ("virtual-host", host), ("network-rule", rule),
                                    ("ssh-key", key)):
        await rf.link(db, resource_type, resource.id, server)
    variable = await rf.create_variable(db, tenant, "application", application.id,
                                        key=f"{MARKER.upper()}_KEY", value_plain=MARKER)
    world.params.update(
        server_id=str(server.id),
        application_id=str(application.id),
        service_id=str(service.id),
        daemon_id=str(daemon.id),
        cron_job_id=str(cron_job.id),
        virtual_host_id=str(host.id),
        ssl_certificate_id=str(certificate.id),
        network_rule_id=str(rule.id),
        ssh_key_id=str(key.id),
        variable_id=str(variable.id),
        resource_type="application",
        resource_id=str(application.id),
    )
    world.objects.update(application=application.id, variable=variable.id)


async def _resource_snapshot(db: AsyncSession, world: World) -> Any:
    """Every environment resource row of the first tenant, as stored."""
    if "application" not in world.objects:
        return None
    from app.models import Base

    tables = ("servers", "applications", "services", "daemons", "cron_jobs", "virtual_hosts",
              "ssl_certificates", "network_rules", "ssh_keys", "variables", "resource_servers")
    snapshot = {}
    for name in tables:
        table = Base.metadata.tables[name]
        rows = (await db.execute(select(table))).all()
        snapshot[name] = sorted(tuple(str(v) for v in row) for row in rows)
    return snapshot




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
    application_id = world.objects["application"]
    server_id = int(world.params["server_id"])
    pipeline = Pipeline(
        name=f"{MARKER} pipeline", resource_type="application", resource_id=application_id,
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
        resource_id=application_id, pipeline_id=pipeline.id, environment_id=environment_id,
        project_id=project_id, trigger_comment=f"{MARKER} comment",
        triggered_from={"name": MARKER}, triggered_by=world.objects["owner"],
    )
    db.add_all([step, action])
    await db.flush()
    from app.actions.targets import ServerAccess

    server = ServerAccess(server_id=server_id, host="192.0.2.1", port=22, username="root",
                          private_key="", os_version_code="ubuntu_24_04")
    target = ActionTarget(
        action_id=action.id, resource_id=server_id, server_id=server_id, status="failed",
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
        resource_id=str(application_id), target_resource_type="server",
        target_resource_id=str(server_id),
    )


# Later issues append a builder that adds their resources' path parameters to the world.
WORLD_BUILDERS: list[Builder] = [_tenancy, _resources, _actions, _credentials_and_networks]


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
        "invitations": sorted(
            (i.status, i.email) for i in (await db.scalars(select(TeamInvitation))).all()
        ),
        "resources": await _resource_snapshot(db, world),
        # Ordered: PostgreSQL returns an unordered SELECT in heap order, which the owner's
        # own read (its token's last_used_at write) may change.
        "tokens": [
            (t.id, t.revoked_at, t.token_hash)
            for t in (
                await db.scalars(select(ApiToken).where(ApiToken.user_id == o["owner"])
                                 .order_by(ApiToken.id))
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

    if op.method == "GET" and op.operation_id not in ASKS_A_PROVIDER:
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
