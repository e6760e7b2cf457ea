"""The HTTP contract of actions and pipelines: shapes, scoping, validation."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests import factories
from tests.actions.conftest import APP_ID, World, add_step, run_pipeline


async def test_pipelines_of_a_resource_and_their_steps(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(f"/pipelines/application/{APP_ID}", headers=world.headers)
    assert response.status_code == 200
    [deploy] = response.json()
    assert deploy["operation"] == "deploy" and deploy["resource_type"] == "application"
    assert 'rel="last"' in response.headers["Link"]

    created = await client.post(
        f"/pipelines/application/{APP_ID}",
        json={"name": "Hotfix deploy", "operation": "deploy", "max_parallel_actions": 1},
        headers=world.headers,
    )
    assert created.status_code == 201, created.text
    pipeline = created.json()
    assert pipeline["steps"] == [] and pipeline["max_parallel_actions"] == 1
    pid = pipeline["id"]

    first = await client.post(
        f"/pipelines/{pid}/steps",
        json={"name": "First", "command": "echo first-step", "runner": "custom"},
        headers=world.headers,
    )
    second = await client.post(
        f"/pipelines/{pid}/steps",
        json={"name": "Second", "command": "echo second-step", "runner": "custom",
              "run_as_user": "deploy"},
        headers=world.headers,
    )
    assert first.status_code == second.status_code == 201
    s1, s2 = first.json()["id"], second.json()["id"]

    # Move the second step before the first.
    moved = await client.put(
        f"/pipelines/{pid}/steps/{s2}",
        json={"id": s2, "command": "echo second-step", "runner": "custom", "trigger_after": 0},
        headers=world.headers,
    )
    assert moved.status_code == 204
    got = (await client.get(f"/pipelines/{pid}", headers=world.headers)).json()
    assert [s["id"] for s in got["steps"]] == [s2, s1]
    assert got["steps"][0]["run_as_user"] == "deploy"

    unlinked = await client.delete(f"/pipelines/{pid}/steps/{s1}/unlink", headers=world.headers)
    assert unlinked.status_code == 204
    got = (await client.get(f"/pipelines/{pid}", headers=world.headers)).json()
    assert [s["id"] for s in got["steps"]] == [s2]
    linked = await client.post(f"/pipelines/{pid}/steps/{s1}/link", headers=world.headers)
    assert linked.status_code == 204
    got = (await client.get(f"/pipelines/{pid}", headers=world.headers)).json()
    assert [s["id"] for s in got["steps"]] == [s2, s1]

    # Linking a step of another pipeline copies it.
    linked = await client.post(
        f"/pipelines/{world.pipeline_id}/steps/{s1}/link", headers=world.headers
    )
    assert linked.status_code == 204
    default = (await client.get(f"/pipelines/{world.pipeline_id}", headers=world.headers)).json()
    assert [s["command"] for s in default["steps"]] == ["echo first-step"]

    renamed = await client.put(
        f"/pipelines/{pid}", json={"id": pid, "name": "Renamed pipeline"}, headers=world.headers
    )
    assert renamed.status_code == 204
    assert (await client.get(f"/pipelines/{pid}", headers=world.headers)).json()["name"] == (
        "Renamed pipeline"
    )
    deleted = await client.delete(f"/pipelines/{pid}", headers=world.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"/pipelines/{pid}", headers=world.headers)).status_code == 404
    # The default pipeline of an operation stays.
    refused = await client.delete(f"/pipelines/{world.pipeline_id}", headers=world.headers)
    assert refused.status_code == 403


async def test_bad_input_is_422_with_field_errors(
    client: httpx.AsyncClient, world: World
) -> None:
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", f"/pipelines/{world.pipeline_id}/steps", {"command": "short", "runner": "x"},
         "command"),
        ("POST", f"/pipelines/{world.pipeline_id}/steps",
         {"command": "echo long enough", "runner": "bash"}, "runner"),
        ("POST", f"/pipelines/application/{APP_ID}", {"name": "ok name", "operation": "fly"},
         "operation"),
        ("POST", f"/pipelines/application/{APP_ID}",
         {"name": "ok name", "operation": "deploy", "max_parallel_actions": 11},
         "max_parallel_actions"),
        ("PUT", f"/pipelines/{world.pipeline_id}", {"id": 999999, "name": "Some name"}, "id"),
        ("POST", f"/pipelines/{world.pipeline_id}/actions", {"servers": ["x"]}, "servers.0"),
    ]
    for method, url, body, field in cases:
        response = await client.request(method, url, json=body, headers=world.headers)
        assert response.status_code == 422, (url, response.text)
        assert field in response.json()["errors"], response.json()
    too_many = await client.get("/actions", params={"per_page": 101}, headers=world.headers)
    assert too_many.status_code == 422


async def test_action_lists_are_scoped_and_filtered(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    await add_step(client, world, "echo listed-action")
    action = await run_pipeline(client, world)
    aid = action["id"]
    lists = [
        "/actions",
        "/actions?filter[resource_type]=application&filter[operation]=deploy",
        f"/actions/application/{APP_ID}",
        "/actions/targets/server/101",
        f"/environments/{world.environment_id}/actions",
        f"/environments/{world.environment_id}/actions/application",
        f"/projects/{world.project.id}/actions/application",
        f"/pipelines/{world.pipeline_id}/actions",
    ]
    for url in lists:
        response = await client.get(url, headers=world.headers)
        assert response.status_code == 200, (url, response.text)
        assert [a["id"] for a in response.json()] == [aid], url
    empty = [
        "/actions?filter[status]=failed",
        f"/projects/{world.project.id}/actions/server",
    ]
    for url in empty:
        response = await client.get(url, headers=world.headers)
        assert response.status_code == 200 and response.json() == [], url

    # Another tenant sees none of it.
    _, other = await factories.user_with_token(db)
    headers = factories.auth(other)
    assert (await client.get("/actions", headers=headers)).json() == []
    assert (await client.get(f"/actions/{aid}", headers=headers)).status_code == 404
    waited = await client.get(f"/actions/{aid}", params={"wait": 1}, headers=headers)
    assert waited.status_code == 404
    target = action["targets"][0]["id"]
    log = await client.get(f"/actions/{aid}/targets/{target}/steps/1/logs", headers=headers)
    assert log.status_code == 404
    assert (await client.post(f"/actions/{aid}/retry", headers=headers)).status_code == 404
    assert (await client.get(f"/pipelines/{world.pipeline_id}", headers=headers)).status_code == 404
    assert (
        await client.get(f"/projects/{world.project.id}/actions/application", headers=headers)
    ).status_code == 404
    foreign = await client.get(f"/pipelines/application/{APP_ID}", headers=headers)
    assert foreign.status_code == 404
    # A resource nobody knows is not found either.
    unknown_server = await client.get("/actions/targets/server/102", headers=world.headers)
    assert unknown_server.status_code == 404
    env_list = await client.get(f"/environments/{world.environment_id}/actions", headers=headers)
    assert env_list.status_code == 404
    unknown = await client.get(f"/actions/{aid}/targets/{target}/steps/9/logs",
                               headers=world.headers)
    assert unknown.status_code == 404


async def test_project_token_needs_the_operation_permission(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    await add_step(client, world, "echo token-run")
    owner = await db.get(factories.User, world.project.user_id)
    assert owner is not None
    reader = await factories.create_role(db, permissions=["action:read", "pipeline:read"])
    _, read_only = await factories.create_project_token(db, world.project, reader, owner)
    runner = await factories.create_role(
        db, permissions=["action:read", "pipeline:read", "application:deploy"]
    )
    _, deployer = await factories.create_project_token(db, world.project, runner, owner)
    refused = await client.post(
        f"/pipelines/{world.pipeline_id}/actions", json={}, headers=factories.auth(read_only)
    )
    assert refused.status_code == 403
    allowed = await client.post(
        f"/pipelines/{world.pipeline_id}/actions", json={}, headers=factories.auth(deployer)
    )
    assert allowed.status_code == 201
    await client.get(
        f"/actions/{allowed.json()['id']}", params={"wait": 20}, headers=world.headers
    )


async def test_list_queries_do_not_grow_with_rows(
    client: httpx.AsyncClient, world: World, count_queries: Any, shell_server: Any, app: Any
) -> None:
    for server_id in (101, 102, 103):
        world.servers.add(server_id, shell_server.port)
    world.app_servers[:] = [101, 102, 103]
    await add_step(client, world, "echo counted")
    await run_pipeline(client, world)
    # The engine shares the connection pool: count only once it is idle, reaper paused.
    runner = app.state.runner
    await runner.wait_idle()
    if runner._reaper is not None:
        runner._reaper.cancel()
    with count_queries() as one:
        await client.get("/actions", headers=world.headers)
    for _ in range(3):
        await run_pipeline(client, world)
    await app.state.runner.wait_idle()
    with count_queries() as four:
        response = await client.get("/actions", headers=world.headers)
    runner.start()
    assert len(response.json()) == 4
    assert four.count == one.count, (one.statements, four.statements)


async def test_no_server_access_provider_is_a_422_not_a_500(
    client: httpx.AsyncClient, world: World
) -> None:
    from app.actions import targets

    await add_step(client, world, "echo unreachable-config")
    targets.set_server_access_provider(None)
    try:
        response = await client.post(
            f"/pipelines/{world.pipeline_id}/actions", json={}, headers=world.headers
        )
    finally:
        targets.set_server_access_provider(world.servers)
    assert response.status_code == 422
    assert "servers" in response.json()["errors"]
