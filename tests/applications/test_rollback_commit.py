"""A rollback records which commit went live, like a deploy does, and clients see it."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests import resource_factories as rf
from tests.remote.conftest import Remote, remote, sshd_host  # noqa: F401 (fixtures)
from tests.remote.git_repos import make_repo


async def test_rollback_shows_the_commit_that_went_live(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote  # noqa: F811
) -> None:
    repo = make_repo(remote)
    first = repo.commit({"index.html": "v1\n"}, "first release")
    application = await rf.create_application(
        db, remote.tenant, repository=str(repo.bare), programming_language="html",
        framework="none", engine_version="none",  # no runtime to install
    )
    await rf.link(db, "application", application.id, remote.server)
    deployments = f"/applications/{application.id}/deployments"
    main = {"type": "deploy", "source_type": "branch", "source_ref": "main"}

    old = await remote.operate(client, deployments, main)
    repo.commit({"index.html": "v2\n"}, "second release")
    await remote.operate(client, deployments, main)
    rollback = await remote.operate(client, deployments, {"type": "rollback"})

    r = await client.get(f"/actions/{rollback['id']}", headers=remote.tenant.headers)
    data = r.json()["action_data"]
    assert data is not None, "a rollback's action_data must say which commit went live"
    # The release that deploy made, by the name its own action_data gave it.
    assert data["release_name"] == old["action_data"]["release_name"]
    assert data["commit"]["hash"] == first
    assert data["commit"]["message"] == "first release"
    assert data["commit"]["author_email"] == "dev@example.test"
    assert data["commit"]["committed_at"]
    assert data["deployment"]["type"] == "rollback"
    assert data["deployment"]["source_ref"] == first
    deployed = await client.get(f"/actions/{old['id']}", headers=remote.tenant.headers)
    assert data["commit"] == deployed.json()["action_data"]["commit"]
