"""How many processes a deploy starts on its server, step by step: a ceiling per step, as
tests/perf has a statement ceiling per read. A deploy runs on every server of every
application, and on a busy controller the servers' share of the work is mostly starting
processes (sshd's session, shells, git, coreutils): one more `$(...)` or helper program in
a script's common path fails here, with the list of what ran.

Counted with `strace -f` on the loopback sshd (tests/remote/process_trace.py): every fork
under the step's SSH session, its shell included; git's threads are no process. So are the
writes of the steps' results, each an SSH packet for the control plane."""

from __future__ import annotations

import asyncio
import subprocess
import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.remote import process_trace
from tests.remote.conftest import Remote
from tests.remote.git_repos import make_repo
from tests.remote.test_application_deploy import deploy, new_application

# The steps that share a session (the first one's marker leads it) -> processes at most on
# (a first deploy, a later deploy of a new commit). What they are today, so that one more
# fails and the change shows in this table.
# (Before 2026-12-05, a session per step: fetch 24 and 18, activate 6 and 7. Then 17 and
# 14, 5 and 6, until the action's record, the release's folder, a new mirror's origin,
# `previous` and reading the live release lost a process each: 14 and 11, 4 and 4. Then
# fetch and activate shared a session: the activate script's shell became a fork of it, 18
# and 15; then a first deploy cloned its mirror, one git process where init and fetch took
# two.)
CEILINGS: dict[tuple[str, ...], tuple[int, int]] = {
    ("Fetch source", "Activate release"): (17, 15),
}
# Besides the steps' sessions: the connection's own sshd processes.
CONNECTION = 3
# Steps with nothing to do for this application (no runtime, no build, no health check)
# complete without a command on the server.
NO_PROCESS = ("Install runtime", "Install dependencies and build", "Health check")


async def test_a_deploy_starts_few_processes_on_its_server(
    strace: None, client: httpx.AsyncClient, db: AsyncSession, remote: Remote,
) -> None:
    repo = make_repo(remote)
    repo.commit({"app.txt": "v1\n", "README": "hello\n"}, "first")
    application = await new_application(db, remote, repo)
    for run, label in enumerate(("first deploy", "later deploy")):
        if run:
            repo.commit({"app.txt": "v2\n"}, "second")
            # A deploy of the same second as the one before names its release after the
            # newest (one `date`): a deploy a second later is the usual case.
            await asyncio.sleep(1.01 - time.time() % 1)
        with process_trace.Trace(remote.host.pid) as trace:
            action = await deploy(client, remote, application.id)
        assert (remote.home / application.name / "current/app.txt").read_text() == (
            f"v{run + 1}\n")
        ran = trace.processes.per_step()
        [target] = action["targets"]
        steps = {step["name"]: step["id"] for step in target["steps"]}
        assert set(steps) == {n for names in CEILINGS for n in names} | set(NO_PROCESS), steps
        for names, ceilings in CEILINGS.items():
            for name in (*names[1:], *NO_PROCESS):
                assert steps[name] not in ran, (name, ran.get(steps[name]))
            programs = ran.get(steps[names[0]], [])
            assert programs, f"{names} ran nothing on the server"
            # The login shell (bash, as Debian and Ubuntu set it up) runs the program
            # itself: no second bash started in its place.
            shell = trace.processes.shells()[steps[names[0]]]
            assert trace.processes.execs[shell] == 1, (
                f"{label}: the session's shell ran {trace.processes.execs[shell]} programs "
                f"in turn: {trace.processes.argv[shell][:200]}")
            assert len(programs) <= ceilings[run], (
                f"{label}: {names} started {len(programs)} processes on the server (ceiling "
                f"{ceilings[run]}): {programs}")
        # The fetch step's seven results and the activate step's one reach the control
        # plane in a write each, not a write (an SSH packet) a line.
        assert trace.result_writes == 2, f"{label}: {trace.result_writes} writes of results"
        # Nothing else: one connection, the session of the steps with work on the server.
        outside = trace.processes.count() - sum(len(p) for p in ran.values())
        assert outside <= CONNECTION, f"{label}: {outside} processes outside the steps"


# What a deploy user's startup files may leave in the session's shell (bash run by sshd
# reads ~/.bashrc even for a command; Debian's and Ubuntu's return at once then): each
# would change what the scripts run, so the session starts a fresh bash for them. And a
# login shell that is not bash.
#
# A function that ~/.bashrc defines (before its guard), whatever the login shell.
BROKEN_GIT = "git() { echo 'not git' >&2; return 1; }\n"
SHELL_SETUPS = {
    "a function named like a command": BROKEN_GIT,
    "an alias and expand_aliases": "shopt -s expand_aliases\nalias mv='echo not mv'\n",
    "a glob option": "shopt -s failglob\n",
    "a set option": "set -o noclobber\n",
    "CDPATH": "CDPATH=/tmp\n",
    "sh as the login shell": None,
}


def set_up_shell(remote: Remote, startup: str | None) -> None:
    if startup is None:
        # The fresh bash started in sh's place reads no ~/.bashrc either.
        subprocess.run(["usermod", "-s", "/bin/sh", remote.user], check=True)
        startup = BROKEN_GIT
    # Before the guard a ~/.bashrc usually starts with, as a user's own lines can be.
    bashrc = remote.home / ".bashrc"
    bashrc.write_text(startup + bashrc.read_text())


@pytest.mark.parametrize("setup", list(SHELL_SETUPS))
async def test_a_deploy_user_whose_shell_startup_changes_bash_still_deploys(
    strace: None, client: httpx.AsyncClient, db: AsyncSession, remote: Remote, setup: str,
) -> None:
    repo = make_repo(remote)
    repo.commit({"app.txt": "v1\n"}, "first")
    application = await new_application(db, remote, repo)
    set_up_shell(remote, SHELL_SETUPS[setup])
    with process_trace.Trace(remote.host.pid) as trace:
        action = await deploy(client, remote, application.id)
    assert action["status"] == "completed"
    assert (remote.home / application.name / "current/app.txt").read_text() == "v1\n"
    [target] = action["targets"]
    fetch = next(s["id"] for s in target["steps"] if s["name"] == "Fetch source")
    shell = trace.processes.shells()[fetch]
    # The login shell, then a fresh bash in its place.
    assert trace.processes.execs[shell] == 2, trace.processes.argv[shell][:200]
