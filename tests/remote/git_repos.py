"""Local git repositories for deploy tests: a bare repository owned by the test server's
OS user (git refuses repositories owned by someone else), filled through a work tree
beside it, as a developer would push to a self-hosted git host."""

from __future__ import annotations

import os
import pwd
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.remote.conftest import Shell

_IDENTITY = "-c user.name='Dev Eloper' -c user.email=dev@example.test -c commit.gpgsign=false"


@dataclass
class GitRepo:
    remote: Shell
    bare: Path
    work: Path
    commits: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(self, files: dict[str, str], message: str, *, branch: str = "main") -> str:
        """Write `files` (path -> content; None-free) in the work tree, commit and push to
        `branch`; returns the commit hash."""
        entry = pwd.getpwnam(self.remote.user)
        for relative, content in files.items():
            path = self.work / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            for p in [path, *path.parents]:
                if p == self.work.parent:
                    break
                os.chown(p, entry.pw_uid, entry.pw_gid)
        w = shlex.quote(str(self.work))
        self.remote.sh(
            f"cd {w} && git checkout -q -B {shlex.quote(branch)} && git add -A && "
            f"git {_IDENTITY} commit -q -m {shlex.quote(message)} && "
            f"git push -q origin HEAD:refs/heads/{shlex.quote(branch)}"
        )
        sha = self.remote.sh(f"git -C {w} rev-parse HEAD").stdout.strip()
        self.commits.append(sha)
        return sha

    def tag(self, name: str, sha: str) -> None:
        w = shlex.quote(str(self.work))
        self.remote.sh(
            f"cd {w} && git {_IDENTITY} tag -a -m {shlex.quote(name)} {shlex.quote(name)} "
            f"{sha} && git push -q origin {shlex.quote('refs/tags/' + name)}"
        )


def make_repo(remote: Shell, name: str = "source") -> GitRepo:
    """An empty bare repository `<home>/<name>.git` with a work tree `<home>/<name>-work`."""
    bare = remote.home / f"{name}.git"
    work = remote.home / f"{name}-work"
    remote.sh(
        f"git init -q --bare -b main {shlex.quote(str(bare))} && "
        f"git init -q -b main {shlex.quote(str(work))} && "
        f"git -C {shlex.quote(str(work))} remote add origin {shlex.quote(str(bare))}"
    )
    return GitRepo(remote, bare, work)
