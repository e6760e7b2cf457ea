"""Fixtures for engine tests: loopback SSH servers, a server registry, a project."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncssh
import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import targets
from app.actions.default_steps import ensure_default_pipelines
from app.actions.models import Pipeline, PipelineStep
from app.projects.models import Project
from tests import factories
from tests.actions.ssh_servers import LoopbackServers, OpenSSHServer, ShellSSHServer

APP_ID = 1


@pytest.fixture(scope="session")
def client_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture(scope="session")
async def shell_server(client_key: asyncssh.SSHKey) -> AsyncIterator[ShellSSHServer]:
    server = await ShellSSHServer(client_key).start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def openssh_server(client_key: asyncssh.SSHKey) -> Iterator[OpenSSHServer]:
    import os

    if OpenSSHServer.binary() is None:
        if os.environ.get("CI"):
            pytest.fail("sshd is required in CI (apt-get install openssh-server)")
        pytest.skip("OpenSSH sshd is not installed (apt-get install openssh-server)")
    server = OpenSSHServer(client_key).start()
    yield server
    server.stop()


@dataclass
class World:
    token: str
    project: Project
    app_servers: list[int]
    servers: LoopbackServers
    pipeline_id: int
    environment_id: int

    @property
    def headers(self) -> dict[str, str]:
        return factories.auth(self.token)


@pytest.fixture
async def servers(
    client_key: asyncssh.SSHKey, app: Any
) -> AsyncIterator[LoopbackServers]:
    registry = LoopbackServers(client_key)
    # These tests reach loopback servers that have no rows: stand in for the real provider
    # (app.wiring) and put it back afterwards.
    real_provider = targets._provider
    targets.set_server_access_provider(registry)
    yield registry
    # Let actions of this test finish before tables are emptied.
    runner = app.state.runner
    if runner is not None:
        await asyncio.wait_for(runner.wait_idle(), 60)
    targets.set_server_access_provider(real_provider)


@pytest.fixture
async def world(
    db: AsyncSession, servers: LoopbackServers, shell_server: ShellSSHServer
) -> AsyncIterator[World]:
    user, token = await factories.user_with_token(db)
    org = await factories.create_organization(db, user)
    project = await factories.create_project(db, user, organization=org)
    environment = await factories.create_environment(db, project)
    app_servers: list[int] = [101]
    servers.add(101, shell_server.port)

    async def resolve(_session: AsyncSession, _resource_id: int) -> list[int]:
        return list(app_servers)

    # The application here is a bare id: its pipelines carry their own scope, so the real
    # resolvers (which look for an application row) step aside for the test.
    real_resolver = targets._resolvers.get("application")
    real_scopes = {t: targets._scopes.pop(t, None) for t in ("application", "server")}
    targets.register_target_resolver("application", resolve)
    pipelines = await ensure_default_pipelines(
        db, "application", APP_ID, project_id=project.id, environment_id=environment.id,
        organization_id=org.id, created_by=user.id,
    )
    deploy: Pipeline = pipelines[0]
    # Engine tests add their own steps: drop the application's built-in deploy steps.
    await db.execute(delete(PipelineStep).where(PipelineStep.pipeline_id == deploy.id))
    await db.commit()
    yield World(token, project, app_servers, servers, deploy.id, environment.id)
    targets.unregister_target_resolver("application")
    if real_resolver is not None:
        targets.register_target_resolver("application", real_resolver)
    for resource_type, scope in real_scopes.items():
        if scope is not None:
            targets.register_scope_resolver(resource_type, scope)


async def add_step(client: httpx.AsyncClient, world: World, command: str, **extra: Any) -> int:
    response = await client.post(
        f"/pipelines/{world.pipeline_id}/steps",
        json={"command": command, "runner": "custom", "name": extra.pop("name", "a step"),
              **extra},
        headers=world.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def run_pipeline(
    client: httpx.AsyncClient, world: World, wait: float = 30, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/pipelines/{world.pipeline_id}/actions", json=body, headers=world.headers
    )
    assert response.status_code == 201, response.text
    action_id = int(response.headers["X-Devopness-Action-Id"])
    assert response.json()["id"] == action_id
    if not wait:
        return dict(response.json())
    return await wait_action(client, world, action_id, wait)


async def wait_action(
    client: httpx.AsyncClient, world: World, action_id: int, wait: float = 30
) -> dict[str, Any]:
    response = await client.get(
        f"/actions/{action_id}", params={"wait": wait}, headers=world.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def step_log(
    client: httpx.AsyncClient, world: World, action: dict[str, Any], target: int = 0,
    order: int = 1,
) -> dict[str, Any]:
    target_id = action["targets"][target]["id"]
    response = await client.get(
        f"/actions/{action['id']}/targets/{target_id}/steps/{order}/logs", headers=world.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="session")
async def live_url(app: Any) -> AsyncIterator[str]:
    """The app behind a real HTTP server: the in-process transport buffers whole bodies."""
    import uvicorn

    from tests.actions.ssh_servers import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
