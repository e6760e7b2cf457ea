"""Each stack's default install and build commands, from the user's side: an application
created with its stack and no commands of its own is deployed; the deploy log names the
defaults (the very commands `/static/application-options` shows) and they run.

Toolchains this machine lacks (composer, php, bundle, go, yarn, pnpm, a Maven wrapper) are
stand-ins the test writes into the runtime's bin directory (where the runtimes family
installs the real ones, first on the build's PATH): each records how it was called, which
proves the default ran the ecosystem's command. npm and Python's venv and pip are real.
"""

from __future__ import annotations

import os
import pwd
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.applications.runtimes import bin_directory
from tests.remote.conftest import Remote
from tests.remote.git_repos import make_repo
from tests.remote.test_application_deploy import release_path

# Records "<tool> <args>" and the directory it ran in; answers `rake -T` and
# `console list` the way the real tools do when the task exists.
STUB = """#!/bin/sh
printf '%s %s @%s\\n' "$(basename "$0")" "$*" "$(pwd -P)" >> "$HOME/toolchain.log"
case "$*" in *"-T assets:precompile"*) echo "rake assets:precompile  # Compile assets" ;; esac
exit 0
"""
MVNW = """#!/bin/sh
printf 'mvnw %s @%s\\n' "$*" "$(pwd -P)" >> "$HOME/toolchain.log"
"""
MANAGE_PY = """import os, sys
with open(os.path.join(os.environ["HOME"], "toolchain.log"), "a") as f:
    f.write("manage.py " + " ".join(sys.argv[1:]) + " @" + sys.prefix + "\\n")
"""


@dataclass
class Stack:
    language: str
    framework: str
    files: dict[str, str]
    stubs: tuple[str, ...] = ()
    # Lines of toolchain.log, in order (the "@dir" part left out).
    calls: tuple[str, ...] = ()
    logged: tuple[str, ...] = ()
    checks: dict[str, Any] = field(default_factory=dict)


STACKS = [
    Stack("php", "laravel", {"composer.json": "{}\n", "artisan": "<?php\n"},
          stubs=("composer", "php"),
          calls=("composer install --no-dev --optimize-autoloader --no-interaction "
                 "--prefer-dist", "php artisan migrate --force", "php artisan config:cache",
                 "php artisan route:cache", "php artisan view:cache"),
          logged=("install dependencies (Laravel default)", "build (Laravel default)")),
    Stack("php", "symfony", {"composer.json": "{}\n", "bin/console": "<?php\n"},
          stubs=("composer", "php"),
          calls=("composer install --no-dev --optimize-autoloader --no-interaction "
                 "--prefer-dist", "php bin/console list doctrine:migrations",
                 "php bin/console doctrine:migrations:migrate --no-interaction "
                 "--allow-no-migration", "php bin/console cache:clear",
                 "php bin/console cache:warmup"),
          logged=("install dependencies (Symfony default)", "build (Symfony default)")),
    Stack("php", "wordpress", {"wp-config.php": "<?php\n"}, stubs=("composer", "php"),
          logged=("no install dependencies command", "no build command")),
    Stack("ruby", "rails", {"Gemfile": "source 'https://rubygems.org'\n", "Rakefile": ""},
          stubs=("bundle",),
          calls=("bundle config set --local deployment true",
                 "bundle config set --local without development test", "bundle install",
                 "bundle exec rake db:migrate", "bundle exec rake -T assets:precompile",
                 "bundle exec rake assets:precompile"),
          logged=("install dependencies (Ruby on Rails default)",
                  "build (Ruby on Rails default)")),
    Stack("go", "none", {"go.mod": "module example.test/app\n", "main.go": "package main\n"},
          stubs=("go",), calls=("go mod download", "go build -o bin/ ./..."),
          logged=("install dependencies (Go default)", "build (Go default)")),
    Stack("java", "spring", {"mvnw": MVNW, "pom.xml": "<project/>\n"},
          calls=("mvnw -B package -DskipTests",),
          logged=("no install dependencies command", "build (Spring default)")),
    Stack("python", "django", {"requirements.txt": "", "manage.py": MANAGE_PY},
          calls=("manage.py migrate --noinput", "manage.py collectstatic --noinput"),
          logged=("install dependencies (Django default)", "build (Django default)"),
          checks={"venv": True}),
    Stack("python", "fastapi", {"requirements.txt": "", "main.py": ""},
          logged=("install dependencies (FastAPI default)", "no build command"),
          checks={"venv": True}),
    Stack("python", "flask", {"requirements.txt": "# nothing yet\n"},
          logged=("install dependencies (Flask default)",), checks={"venv": True}),
    Stack("nodejs", "react", {"package.json": '{"scripts": {"build": "vite build"}}\n',
                              "yarn.lock": ""},
          stubs=("yarn",), calls=("yarn install --frozen-lockfile --production=false",
                                  "yarn run build"),
          logged=("install dependencies (React default)", "build (React default)")),
    Stack("nodejs", "nextjs", {"package.json": '{"scripts": {"build": "next build"}}\n',
                               "pnpm-lock.yaml": ""},
          stubs=("pnpm",), calls=("pnpm install --frozen-lockfile --prod=false",
                                  "pnpm run build"),
          logged=("install dependencies (Next.js default)", "build (Next.js default)")),
    Stack("nodejs", "express", {"package.json": '{"scripts": {"start": "node ."}}\n',
                                "package-lock.json": ""},
          stubs=("npm",), calls=("npm ci",),
          logged=("install dependencies (Express default)",
                  "package.json has no build script: nothing to build")),
    Stack("nodejs", "vue", {"package.json": '{"scripts": {"build": "vue-cli-service build"}}\n'},
          stubs=("npm",), calls=("npm install --include=dev", "npm run build"),
          logged=("install dependencies (Vue.js default)", "build (Vue.js default)")),
    Stack("nodejs", "nestjs", {"README.md": "no package.json here\n"},
          logged=("no package.json: nothing to install",
                  "package.json has no build script: nothing to build")),
]


def _chown(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


async def _options(client: httpx.AsyncClient, remote: Remote) -> dict[tuple[str, str], Any]:
    r = await client.get("/static/application-options", headers=remote.tenant.headers)
    assert r.status_code == 200, r.text
    return {(runtime["name"], framework["name"]): framework["defaults"]
            for runtime in r.json()["language_runtimes"]
            for framework in runtime["frameworks"]}


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: f"{s.language}-{s.framework}")
async def test_stack_defaults_run_when_the_application_has_no_commands(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, stack: Stack
) -> None:
    defaults = (await _options(client, remote))[(stack.language, stack.framework)]
    version = defaults["engine_version"]
    relative = bin_directory(stack.language, version)
    assert relative is not None
    bin_dir = remote.home / relative
    remote.sh(f"mkdir -p {shlex.quote(str(bin_dir))}")
    for tool in stack.stubs:
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
        _chown(bin_dir / tool, remote.user)
    repo = make_repo(remote)
    repo.commit(stack.files, "first")

    r = await client.post(
        f"/environments/{remote.tenant.environment.id}/applications",
        json={"name": "app", "repository": str(repo.bare), "credential_id": 1,
              "programming_language": stack.language, "framework": stack.framework,
              "engine_version": version, "default_branch": "main",
              "linked_resources": [{"resource_type": "server",
                                    "resource_id": remote.server.id}]},
        headers=remote.tenant.headers,
    )
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["install_dependencies_command"] is None and app["build_command"] is None
    action = await remote.operate(client, f"/applications/{app['id']}/deployments",
                                  {"type": "deploy"})
    logs = await remote.logs(client, action)
    for text in stack.logged:
        assert text in logs
    # The log shows the very command the options offer.
    for label, key in (("install dependencies", "install_dependencies_command"),
                       ("build", "build_command")):
        if defaults[key]:
            assert f"{label} (" in logs and f" default): {defaults[key]}\n" in logs
        else:
            assert f"no {label} command" in logs
    toolchain = remote.home / "toolchain.log"
    calls = toolchain.read_text().splitlines() if toolchain.exists() else []
    # The build step's runtime version probe (shown in its log) runs outside the release.
    calls = [c for c in calls if c.rsplit(" @", 1)[1] != str(remote.home)]
    release = Path(release_path(remote.home / "app", action))
    assert [c.rsplit(" @", 1)[0] for c in calls] == list(stack.calls)
    for call in calls:
        where = call.rsplit(" @", 1)[1]
        # Ran in the release (manage.py reports its interpreter: the release's venv).
        assert where in (str(release), str(release / ".venv")), call
    if stack.checks.get("venv"):
        assert (release / ".venv/bin/python").exists()
