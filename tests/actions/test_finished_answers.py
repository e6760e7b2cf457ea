"""A finished action's answer, as users read it again and again (an agent polling its result,
a page following it): each API process keeps the JSON of its targets and steps
(app.actions.answers). What users see must not change for it: the same answer as one
built from the rows, another tenant still answered 404, and whatever changes later (a
renamed project, a retry, a step written after the action finished) shown at once."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.answers import FinishedAnswers, KnownAnswer
from app.actions.models import ActionStep
from tests import factories
from tests.actions.conftest import World, add_step, run_pipeline
from tests.actions.ssh_servers import ShellSSHServer


async def _read(client: httpx.AsyncClient, world: World, action_id: int) -> dict[str, Any]:
    response = await client.get(f"/actions/{action_id}", headers=world.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_finished_action_reads_the_same_when_kept_and_changes_show_at_once(
    client: httpx.AsyncClient, world: World, db: AsyncSession, app: Any,
    shell_server: ShellSSHServer, count_queries: Any,
) -> None:
    for server_id in (102, 103):
        world.servers.add(server_id, shell_server.port)
        world.app_servers.append(server_id)
    await add_step(client, world, "echo first", name="first")
    await add_step(client, world, "echo second >&2; exit 3", name="second")
    waited = await run_pipeline(client, world)
    assert waited["status"] == "failed"
    assert [len(t["steps"]) for t in waited["targets"]] == [2, 2, 2]

    # Read twice (with nothing kept from the wait above): the second answer comes from
    # what the first kept, in fewer statements (the targets and steps are not read again),
    # and is the same.
    app.state.finished_answers = FinishedAnswers()
    with count_queries() as first_read:
        first = await _read(client, world, waited["id"])
    with count_queries() as kept_read:
        kept = await _read(client, world, waited["id"])
    assert kept == first == waited
    assert kept_read.count < first_read.count, (kept_read.statements, first_read.statements)
    # Kept whole: the caller's access and the answer's version, nothing else read again.
    assert kept_read.count <= 2, kept_read.statements
    # And the same as an answer built from the rows with nothing kept.
    app.state.finished_answers = FinishedAnswers(max_bytes=0)
    assert await _read(client, world, waited["id"]) == first
    app.state.finished_answers = FinishedAnswers()
    await _read(client, world, waited["id"])

    # Kept or not, another tenant is not told the action exists.
    _, other = await factories.user_with_token(db)
    foreign = await client.get(f"/actions/{waited['id']}", headers=factories.auth(other))
    assert foreign.status_code == 404, foreign.text
    foreign = await client.get(f"/actions/{waited['id']}", params={"wait": 1},
                               headers=factories.auth(other))
    assert foreign.status_code == 404, foreign.text

    # What is around the targets is read fresh: the project's new name, the retry.
    project = world.project
    renamed = await client.put(
        f"/projects/{project.id}",
        json={"id": project.id, "name": "renamed-project", "logo_url": None},
        headers=world.headers)
    assert renamed.status_code in (200, 204), renamed.text
    retry = await client.post(f"/actions/{waited['id']}/retry", headers=world.headers)
    assert retry.status_code in (200, 201), retry.text
    after = await _read(client, world, waited["id"])
    assert after["project"]["name"] == "renamed-project"
    assert after["environment"]["project"]["name"] == "renamed-project"
    assert [c["id"] for c in after["children"]] == [retry.json()["id"]]
    assert after["targets"] == first["targets"]
    # The retry finishing changes the child's status in its parent's answer.
    finished_retry = await client.get(f"/actions/{retry.json()['id']}", params={"wait": 30},
                                      headers=world.headers)
    assert finished_retry.json()["status"] == "failed", finished_retry.text
    after = await _read(client, world, waited["id"])
    assert after["children"][0]["status"] == "failed"

    # The environment and the user who started the action, renamed, show at once too.
    environment = await client.put(
        f"/environments/{world.environment_id}",
        json={"id": world.environment_id, "type": "staging", "name": "renamed-environment"},
        headers=world.headers)
    assert environment.status_code in (200, 204), environment.text
    after = await _read(client, world, waited["id"])
    assert after["environment"]["name"] == "renamed-environment"
    assert after["environment"]["type"] == "staging"
    me = (await client.get("/users/me", headers=world.headers)).json()
    user = await client.put(f"/users/{me['id']}", json={"name": "Renamed User"},
                            headers=world.headers)
    assert user.status_code in (200, 204), user.text
    after = await _read(client, world, waited["id"])
    assert after["triggered_by_user"]["name"] == "Renamed User"
    assert after["project"]["created_by_user"]["name"] == "Renamed User"
    with count_queries() as kept_again:
        assert await _read(client, world, waited["id"]) == after
    assert kept_again.count <= 2, kept_again.statements

    # A step written after its action finished (a worker's late write) shows at once.
    step_id = first["targets"][1]["steps"][1]["id"]
    await db.execute(update(ActionStep).where(ActionStep.id == step_id)
                     .values(status_message="written late"))
    await db.commit()
    late = await _read(client, world, waited["id"])
    assert late["targets"][1]["steps"][1]["status_reason_human_readable"] == "written late"
    assert late["targets"][0] == first["targets"][0]


def test_what_is_kept_stays_within_its_memory_least_recently_read_dropped_first() -> None:
    def known(version: int, size: int) -> KnownAnswer:
        return KnownAnswer((version,), b"x" * size)

    finished = FinishedAnswers(max_bytes=300)
    for action_id in (1, 2, 3):
        finished.put(action_id, known(1, 100))
    assert finished.get(1, (1,)) is not None  # read: now the most recent
    finished.put(4, known(1, 100))  # over 300 bytes: 2, the least recently read, goes
    assert finished.get(2, (1,)) is None
    assert all(finished.get(i, (1,)) is not None for i in (1, 3, 4))
    # Another version of the rows is not what was kept.
    assert finished.get(3, (2,)) is None
    # Kept again under a new version: replaced, not counted twice.
    finished.put(3, known(2, 100))
    assert finished.get(3, (2,)) is not None and finished.get(3, (1,)) is None
    assert all(finished.get(i, (1,)) is not None for i in (1, 4))
    # An answer larger than all the memory is not kept, and drops nothing.
    finished.put(5, known(1, 301))
    assert finished.get(5, (1,)) is None
    assert all(finished.get(i, (1,)) is not None for i in (1, 4))
    # FINISHED_ACTIONS_CACHE_MB=0: nothing is kept.
    off = FinishedAnswers(max_bytes=0)
    off.put(1, known(1, 1))
    assert off.get(1, (1,)) is None
