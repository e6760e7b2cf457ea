"""Targets queued for one of the worker's SSH sessions (`WORKER_MAX_PARALLEL_TARGETS`):
they connect while they wait, within `WORKER_CONNECTIONS_AHEAD`, so a freed session starts
its steps without a handshake. Seen from the servers (which OS users have an SSH
connection, which run a shell), with a deploy to three servers whose build waits for a
gate file, one session at a time."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests import resource_factories as rf
from tests.remote.conftest import Remote
from tests.remote.git_repos import GitRepo, make_repo
from tests.remote.test_application_deploy import MAIN, more_servers, new_application


@pytest.fixture
def repo(remote: Remote) -> GitRepo:
    repo = make_repo(remote)
    repo.commit({"app.txt": "v1\n"}, "first")
    return repo


def processes(user: str) -> list[str]:
    """The user's processes on the loopback server (command lines)."""
    found = subprocess.run(["pgrep", "-a", "-u", user], capture_output=True, text=True)
    return [line.split(" ", 1)[1] for line in found.stdout.splitlines()]


def connected(user: str) -> bool:
    """An SSH connection is open for the user (sshd's process of the user's own)."""
    return any(p.startswith("sshd:") for p in processes(user))


def running(user: str) -> bool:
    """A session of the user runs a shell (a step's script)."""
    return any(not p.startswith("sshd:") for p in processes(user))


async def until(check: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@dataclass
class Gated:
    action_id: int
    users: list[str]
    homes: list[Path]
    gate: Path
    application_name: str


@pytest.fixture
async def gated(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo,
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Gated]:
    """A deploy to three servers, one SSH session at a time and one connection ahead,
    started: its first target's build waits for `gate`."""
    monkeypatch.setattr(settings, "worker_max_parallel_targets", 1)
    monkeypatch.setattr(settings, "worker_connections_ahead", 1)
    async with more_servers(db, remote, repo, 2) as others:
        gate = remote.home / "gate"
        application = await new_application(
            db, remote, repo, build_command=f"until [ -e {gate} ]; do sleep 0.05; done")
        for server, _, _ in others:
            await rf.link(db, "application", application.id, server)
        response = await client.post(f"/applications/{application.id}/deployments",
                                     json=MAIN, headers=remote.tenant.headers)
        assert response.status_code in (200, 201, 204), response.text
        users = [remote.user, *(user for _, user, _ in others)]
        homes = [remote.home, *(home for _, _, home in others)]
        yield Gated(int(response.headers["X-Devopness-Action-Id"]), users, homes, gate,
                    application.name)
        gate.touch()  # nothing keeps waiting if the test failed


async def first_target_building(gated: Gated) -> tuple[str, list[str]]:
    """The user whose build waits at the gate, and the other two."""
    await until(lambda: any(running(u) for u in gated.users), "a target's build")
    [busy] = [u for u in gated.users if running(u)]
    return busy, [u for u in gated.users if u != busy]


async def test_a_queued_target_connects_while_it_waits_for_a_session(
    client: httpx.AsyncClient, remote: Remote, gated: Gated
) -> None:
    _, waiting = await first_target_building(gated)
    # One of the two queued targets connects ahead (one connection ahead allowed); it runs
    # nothing until the session is free, and the third has no connection yet.
    await until(lambda: any(connected(u) for u in waiting), "a connection ahead")
    await asyncio.sleep(0.5)
    ahead = [u for u in waiting if connected(u)]
    assert len(ahead) == 1, {u: processes(u) for u in waiting}
    assert not any(running(u) for u in waiting), {u: processes(u) for u in waiting}
    action = (await client.get(f"/actions/{gated.action_id}",
                               headers=remote.tenant.headers)).json()
    started = [t for t in action["targets"]
               if any(s["status"] != "pending" for s in t["steps"])]
    assert len(started) == 1, action["targets"]

    gated.gate.touch()
    action = await remote.wait(client, gated.action_id)
    for home in gated.homes:
        assert (home / gated.application_name / "current/app.txt").read_text() == "v1\n"


async def test_a_connection_lost_while_its_target_waits_is_opened_again(
    client: httpx.AsyncClient, remote: Remote, gated: Gated
) -> None:
    """The server drops the waiting target's connection (its sshd killed, as a restart or a
    firewall's idle timeout would): the target connects again when its session frees and
    deploys; nothing fails."""
    _, waiting = await first_target_building(gated)
    await until(lambda: any(connected(u) for u in waiting), "a connection ahead")
    [ahead] = [u for u in waiting if connected(u)]
    await (await asyncio.create_subprocess_exec("pkill", "-KILL", "-u", ahead)).wait()
    await until(lambda: not connected(ahead), "the connection to close")
    await asyncio.sleep(0.2)  # the engine reads the close

    gated.gate.touch()
    await remote.wait(client, gated.action_id)
    for home in gated.homes:
        assert (home / gated.application_name / "current/app.txt").read_text() == "v1\n"


async def test_a_deploy_cancelled_while_targets_wait_leaves_no_connection_open(
    client: httpx.AsyncClient, remote: Remote, gated: Gated
) -> None:
    _, waiting = await first_target_building(gated)
    await until(lambda: any(connected(u) for u in waiting), "a connection ahead")

    cancelled = await client.post(f"/actions/{gated.action_id}/cancel",
                                  headers=remote.tenant.headers)
    assert cancelled.status_code == 200, cancelled.text
    action = await remote.wait(client, gated.action_id, expect="failed")
    assert action["status_reason_human_readable"] == "Cancelled by user."
    assert all(t["status"] == "failed" for t in action["targets"]), action["targets"]
    # Every server's connection and session closed; no release went live anywhere.
    await until(lambda: not any(processes(u) for u in gated.users), "every connection closed",
                seconds=10)
    for home in gated.homes:
        assert not (home / gated.application_name / "current").exists()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never answers (a server whose sshd
    hangs): a connection to it ends only at the engine's connect timeout."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_server_that_never_answers_does_not_hold_up_the_others(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, repo: GitRepo,
    settings: Settings, monkeypatch: pytest.MonkeyPatch, silent_port: int,
) -> None:
    """Two sessions, one connection ahead, and the deploy's first server never answers:
    the second server takes the other free session and deploys at once, rather than wait
    for the first one's connection to time out (connections are opened ahead only by
    targets that have to wait for a session)."""
    monkeypatch.setattr(settings, "worker_max_parallel_targets", 2)
    monkeypatch.setattr(settings, "worker_connections_ahead", 1)
    monkeypatch.setattr(settings, "ssh_connect_timeout_seconds", 4.0)
    silent = await rf.create_server(db, remote.tenant, ssh_port=silent_port,
                                    ssh_user=remote.user, max_parallel_actions=0)
    # Created and linked after the silent one: its target comes second.
    async with more_servers(db, remote, repo, 1) as [(reachable, _, home)]:
        application = await rf.create_application(
            db, remote.tenant, repository=str(repo.bare), programming_language="html",
            framework="none", engine_version="none")
        for server in (silent, reachable):
            await rf.link(db, "application", application.id, server)

        action = await remote.operate(
            client, f"/applications/{application.id}/deployments", MAIN, expect="failed")
        assert [t["resource_id"] for t in action["targets"]] == [silent.id, reachable.id]
        by_server = {t["resource_id"]: t for t in action["targets"]}
        assert by_server[silent.id]["status"] == "failed"
        done = by_server[reachable.id]
        assert done["status"] == "completed", done
        took = (datetime.fromisoformat(done["completed_at"])
                - datetime.fromisoformat(action["created_at"])).total_seconds()
        assert took < 3, f"the reachable server's deploy ended {took:.1f} s after it was asked"
        assert (home / application.name / "current/app.txt").read_text() == "v1\n"
