"""Ids that name another tenant's (or another environment's) rows, tried as an attacker would.

Hole 1: a server's credential. `PUT /servers/{id}` must refuse a credential the server's
environment may not use, and an action must refuse to open a stored credential that is not
(or no longer) in the server's scope, before anything reaches the provider.
Hole 5: copying a pipeline step (`POST /pipelines/{p}/steps/{step}/link`) from a pipeline
the caller may not read.
Also: re-connecting a connected server (the connect command re-pins its host key) is
replacing the machine that receives its secrets, so `server:update` alone is not enough.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import ActionLogChunk, ActionStep, Pipeline, PipelineStep
from app.core.settings import Settings
from app.credentials.models import CredentialEnvironment
from app.servers.models import Server
from tests import factories_credentials as fc
from tests import resource_factories as rf
from tests.factories import (
    auth,
    create_environment,
    create_role,
    create_team,
    link_team,
    user_with_token,
)

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINcoHXsHivPbU8hBWJfRNAwQ6IUI7Scv897OhEOgO2LC"


def _resources_tenant(t: fc.Tenant) -> rf.Tenant:
    return rf.Tenant(t.user, t.token, t.project, t.environment)


async def _cloud_server(db: AsyncSession, t: fc.Tenant, credential_id: int) -> Server:
    return await rf.create_server(
        db, _resources_tenant(t), cloud_service_code="aws-ec2", credential_id=credential_id,
        provider_instance_id="i-0123456789abcdef0", region="us-east-1",
        provision_input={"cloud_service_code": "aws-ec2",
                         "settings": {"region": "us-east-1", "instance_type": "t3.micro",
                                      "storage_size": 20, "os_version_code": "ubuntu_24_04"}},
    )


async def _stored_credential(db: AsyncSession, server_id: int) -> int | None:
    return await db.scalar(
        select(Server.credential_id).where(Server.id == server_id)
        .execution_options(populate_existing=True)
    )


# ---------------------------------------------------------------- hole 1: request time


async def test_server_update_refuses_another_organizations_credential(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    attacker, victim = await fc.create_tenant(db), await fc.create_tenant(db)
    own = await fc.create_credential(db, settings, attacker)
    foreign = await fc.create_credential(db, settings, victim)
    server = await _cloud_server(db, attacker, own.id)

    r = await client.put(f"/servers/{server.id}", json={"id": server.id,
                                                         "credential_id": foreign.id},
                         headers=attacker.headers)
    assert r.status_code in (404, 422), r.text
    assert "credential_id" in r.json().get("errors", {}), r.text
    assert await _stored_credential(db, server.id) == own.id

    # The same request with a credential of the server's own environment is accepted.
    other_own = await fc.create_credential(db, settings, attacker)
    r = await client.put(f"/servers/{server.id}", json={"id": server.id,
                                                         "credential_id": other_own.id},
                         headers=attacker.headers)
    assert r.status_code == 204, r.text
    assert await _stored_credential(db, server.id) == other_own.id


async def test_server_update_refuses_a_credential_of_another_environment(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    """Same organization, but the credential is not linked to the server's environment."""
    tenant = await fc.create_tenant(db)
    own = await fc.create_credential(db, settings, tenant)
    elsewhere = await fc.create_credential(db, settings, tenant, link=False)
    server = await _cloud_server(db, tenant, own.id)
    r = await client.put(f"/servers/{server.id}", json={"id": server.id,
                                                         "credential_id": elsewhere.id},
                         headers=tenant.headers)
    assert r.status_code == 422, r.text
    assert await _stored_credential(db, server.id) == own.id


async def test_server_update_refuses_a_credential_the_caller_may_not_read(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    """A member who may edit servers but not read credentials sees the credential's
    environment: the id is visible, the permission is missing (403), nothing changes."""
    tenant = await fc.create_tenant(db)
    own = await fc.create_credential(db, settings, tenant)
    other = await fc.create_credential(db, settings, tenant)
    server = await _cloud_server(db, tenant, own.id)
    member, token = await user_with_token(db)
    team = await create_team(db, organization=tenant.organization, members=(member,))
    role = await create_role(db, permissions=["environment:read", "server:read",
                                              "server:update"])
    await link_team(db, team, role, environment=tenant.environment)

    r = await client.put(f"/servers/{server.id}", json={"id": server.id,
                                                         "credential_id": other.id},
                         headers=auth(token))
    assert r.status_code == 403, r.text
    assert await _stored_credential(db, server.id) == own.id


# ---------------------------------------------------------------- hole 1: action time


async def _failed_action_text(
    client: httpx.AsyncClient, db: AsyncSession, headers: dict[str, str], r: httpx.Response
) -> str:
    assert r.status_code in (200, 202, 204), r.text
    action_id = int(r.headers["X-Devopness-Action-Id"])
    got = await client.get(f"/actions/{action_id}", params={"wait": 30}, headers=headers)
    assert got.status_code == 200, got.text
    action: dict[str, Any] = got.json()
    assert action["status"] == "failed", action
    logs = await db.scalars(
        select(ActionLogChunk.data)
        .join(ActionStep, ActionStep.id == ActionLogChunk.action_step_id)
        .where(ActionStep.action_id == action_id)
    )
    messages = await db.scalars(
        select(ActionStep.status_message).where(ActionStep.action_id == action_id)
    )
    return json.dumps(action) + "\n".join(logs.all()) + "\n".join(
        m for m in messages.all() if m
    )


async def test_power_action_refuses_a_stored_credential_of_another_organization(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    """A record that names another organization's credential (stored through the hole, or
    by any future path) is refused when the action runs: the credential is never opened,
    so nothing is sent to the provider (the step fails before it, not on the network)."""
    attacker, victim = await fc.create_tenant(db), await fc.create_tenant(db)
    foreign = await fc.create_credential(db, settings, victim)
    server = await _cloud_server(db, attacker, foreign.id)

    r = await client.post(f"/servers/{server.id}/start", headers=attacker.headers)
    text = await _failed_action_text(client, db, attacker.headers, r)
    assert "cannot be used here" in text, text
    assert "Could not start" not in text, text


async def test_power_action_refuses_a_credential_unlinked_from_the_environment(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant = await fc.create_tenant(db)
    credential = await fc.create_credential(db, settings, tenant)
    server = await _cloud_server(db, tenant, credential.id)
    await db.execute(delete(CredentialEnvironment).where(
        CredentialEnvironment.credential_id == credential.id))
    await db.commit()

    r = await client.post(f"/servers/{server.id}/stop", headers=tenant.headers)
    text = await _failed_action_text(client, db, tenant.headers, r)
    assert "cannot be used here" in text, text


# ---------------------------------------------------------------- hole 5: pipeline steps


async def _pipeline(db: AsyncSession, t: fc.Tenant, environment_id: int,
                    application_id: int) -> Pipeline:
    pipeline = Pipeline(
        name=f"deploy {application_id}", resource_type="application",
        resource_id=application_id, operation="deploy", environment_id=environment_id,
        project_id=t.project.id, organization_id=t.organization.id, created_by=t.user.id,
    )
    db.add(pipeline)
    await db.commit()
    return pipeline


async def _steps(db: AsyncSession, pipeline_id: int) -> list[str]:
    rows = await db.scalars(select(PipelineStep.command).where(
        PipelineStep.pipeline_id == pipeline_id))
    return list(rows.all())


async def test_a_step_cannot_be_copied_from_an_environment_the_member_cannot_see(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner = await fc.create_tenant(db)
    staging = owner.environment
    production = await create_environment(db, owner.project, name="production")
    staging_app = await rf.create_application(db, _resources_tenant(owner))
    production_app = await rf.create_application(
        db, rf.Tenant(owner.user, owner.token, owner.project, production))
    mine = await _pipeline(db, owner, staging.id, staging_app.id)
    theirs = await _pipeline(db, owner, production.id, production_app.id)
    secret_step = PipelineStep(pipeline_id=theirs.id, name="migrate",
                               command="DB_PASSWORD=prod-hunter2 ./migrate", trigger_order=1000)
    db.add(secret_step)
    await db.commit()

    member, token = await user_with_token(db)
    team = await create_team(db, organization=owner.organization, members=(member,))
    editor = await create_role(db, permissions=["environment:read", "application:read",
                                                "pipeline:read", "pipeline:update"])
    await link_team(db, team, editor, environment=staging)

    r = await client.post(f"/pipelines/{mine.id}/steps/{secret_step.id}/link",
                          headers=auth(token))
    assert r.status_code == 404, r.text
    assert await _steps(db, mine.id) == []

    # Now she sees production too, without the right to read its pipelines: 403.
    viewer = await create_role(db, permissions=["environment:read", "application:read"])
    await link_team(db, team, viewer, environment=production)
    r = await client.post(f"/pipelines/{mine.id}/steps/{secret_step.id}/link",
                          headers=auth(token))
    assert r.status_code == 403, r.text
    assert await _steps(db, mine.id) == []

    # Whoever reads both pipelines copies the step, as the product describes.
    r = await client.post(f"/pipelines/{mine.id}/steps/{secret_step.id}/link",
                          headers=owner.headers)
    assert r.status_code == 204, r.text
    assert await _steps(db, mine.id) == ["DB_PASSWORD=prod-hunter2 ./migrate"]


async def test_a_step_of_another_organization_is_not_found(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    attacker, victim = await fc.create_tenant(db), await fc.create_tenant(db)
    own_app = await rf.create_application(db, _resources_tenant(attacker))
    their_app = await rf.create_application(db, _resources_tenant(victim))
    mine = await _pipeline(db, attacker, attacker.environment.id, own_app.id)
    theirs = await _pipeline(db, victim, victim.environment.id, their_app.id)
    step = PipelineStep(pipeline_id=theirs.id, name="s", command="echo victim",
                        trigger_order=1000)
    db.add(step)
    await db.commit()
    r = await client.post(f"/pipelines/{mine.id}/steps/{step.id}/link",
                          headers=attacker.headers)
    assert r.status_code == 404, r.text
    assert await db.scalar(select(func.count()).select_from(PipelineStep).where(
        PipelineStep.pipeline_id == mine.id)) == 0


# ---------------------------------------------------------------- connected servers


async def test_re_connecting_a_connected_server_needs_more_than_server_update(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """Changing a connected server's address keeps its pinned host key (another machine
    at the new address is refused before anything is sent); re-pinning it through the
    connect command needs server:create and server:delete besides server:update."""
    owner = await fc.create_tenant(db)
    server = await rf.create_server(db, _resources_tenant(owner), host_key=HOST_KEY)
    fresh = await rf.create_server(db, _resources_tenant(owner))
    member, token = await user_with_token(db)
    team = await create_team(db, organization=owner.organization, members=(member,))
    role = await create_role(db, permissions=["environment:read", "server:read",
                                              "server:update"])
    await link_team(db, team, role, environment=owner.environment)

    r = await client.put(f"/servers/{server.id}",
                         json={"id": server.id, "ip_address": "203.0.113.50", "ssh_port": 2200},
                         headers=auth(token))
    assert r.status_code == 204, r.text
    stored = await db.get(Server, server.id, populate_existing=True)
    assert stored is not None
    assert (stored.ip_address, stored.ssh_port, stored.host_key) == (
        "203.0.113.50", 2200, HOST_KEY)

    r = await client.get(f"/servers/{server.id}/commands", headers=auth(token))
    assert r.status_code == 403, r.text
    assert "server:create" in r.json()["message"]
    # A server never connected is connected by whoever may edit it, as before.
    r = await client.get(f"/servers/{fresh.id}/commands", headers=auth(token))
    assert r.status_code == 200, r.text
    r = await client.get(f"/servers/{server.id}/commands", headers=owner.headers)
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- the permission half


async def test_linking_needs_the_right_to_read_what_is_linked(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """A body id of the caller's own environment still needs `<kind>:read` there: a member
    who may add daemons but not see servers cannot place one on a server (403)."""
    owner = await fc.create_tenant(db)
    server = await rf.create_server(db, _resources_tenant(owner))
    member, token = await user_with_token(db)
    team = await create_team(db, organization=owner.organization, members=(member,))
    role = await create_role(db, permissions=["environment:read", "daemon:read",
                                              "daemon:create"])
    await link_team(db, team, role, environment=owner.environment)
    body = {"name": "worker", "command": "sleep 60", "run_as_user": "root",
            "working_directory": "/srv/app", "process_count": 1,
            "linked_resources": [{"resource_type": "server", "resource_id": server.id}]}
    url = f"/environments/{owner.environment.id}/daemons"
    r = await client.post(url, json=body, headers=auth(token))
    assert r.status_code == 403, r.text
    r = await client.get(url, headers=owner.headers)
    assert r.json() == []
    r = await client.post(url, json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
