from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests import resource_factories as f

PATHS = [
    "/static/application-options",
    "/static/server-options",
    "/static/service-options",
    "/static/cronjob-options",
    "/static/network-rule-options",
    "/static/virtual-host-options",
    "/static/environment-options",
    "/static/resource-types",
    "/static/user-profile-options",
    "/static/billing-plans-options",
]


@pytest.mark.parametrize("path", PATHS)
async def test_options_need_a_caller_and_match_the_reference(
    path: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    assert (await client.get(path)).status_code == 401
    t = await f.create_tenant(db)
    r = await client.get(path, headers=t.headers)
    assert r.status_code == 200, r.text


async def test_options_agree_with_the_validators(client: httpx.AsyncClient, db: AsyncSession
                                                 ) -> None:
    t = await f.create_tenant(db)
    frequencies = (await client.get("/static/cronjob-options", headers=t.headers)).json()
    # Every offered frequency is accepted by cron job creation.
    for frequency in frequencies["frequencies"]:
        r = await client.post(
            f"/environments/{t.environment.id}/cron-jobs",
            json={"name": frequency["human_readable"], "command": "echo hi",
                  "pattern": frequency["value"], "run_as_user": "root"},
            headers=t.headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["pattern_human_readable"] == frequency["human_readable"]
    services = (await client.get("/static/service-options", headers=t.headers)).json()
    redis = next(s for s in services["types"] if s["value"] == "redis")
    version = redis["supported_versions"][0]["version"]
    r = await client.post(f"/environments/{t.environment.id}/services",
                          json={"type": "redis", "version": version}, headers=t.headers)
    assert r.status_code == 201


async def test_resource_types_paginate(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    r = await client.get("/static/resource-types", params={"per_page": 5}, headers=t.headers)
    assert len(r.json()) == 5
    assert 'rel="next"' in r.headers["Link"]


# Stacks whose ecosystem has an install and/or build step (the others build nothing).
EXPECTED_DEFAULTS = {
    ("nodejs", "express"): ("npm ci", "npm run build"),
    ("nodejs", "nextjs"): ("pnpm-lock.yaml", "npm run build"),
    ("nodejs", "react"): ("yarn.lock", "npm run build"),
    ("php", "laravel"): ("composer install --no-dev --optimize-autoloader",
                         "php artisan migrate --force"),
    ("php", "symfony"): ("composer install --no-dev", "php bin/console cache:warmup"),
    ("php", "wordpress"): (None, None),
    ("python", "django"): ("python3 -m venv .venv", "manage.py collectstatic --noinput"),
    ("python", "fastapi"): ("pip install -r requirements.txt", None),
    ("python", "flask"): ("pip install -r requirements.txt", None),
    ("ruby", "rails"): ("bundle config set --local without 'development test'",
                        "bundle exec rake assets:precompile"),
    ("go", "none"): ("go mod download", "go build"),
    ("java", "spring"): (None, "./mvnw -B package -DskipTests"),
    ("html", "none"): (None, None),
    ("docker", "none"): (None, None),
}


async def test_application_options_carry_each_stacks_default_commands(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    options = (await client.get("/static/application-options", headers=t.headers)).json()
    defaults = {(runtime["name"], framework["name"]): framework["defaults"]
                for runtime in options["language_runtimes"]
                for framework in runtime["frameworks"]}
    for stack, (install, build) in EXPECTED_DEFAULTS.items():
        found = defaults[stack]
        for command, key, listed in (
            (install, "install_dependencies_command", "dependencies"),
            (build, "build_command", "build"),
        ):
            if command is None:
                assert found[key] is None, (stack, key)
                continue
            assert command in found[key], (stack, key, found[key])
            # The default is the first of the stack's offered commands.
            assert found["commands"][listed][0] == found[key]
    # Every offered default is a command an application accepts as its own.
    for (language, framework), found in defaults.items():
        if not (found["install_dependencies_command"] or found["build_command"]):
            continue
        r = await client.post(
            f"/environments/{t.environment.id}/applications",
            json={"name": f"{language}-{framework}", "repository": "acme/app",
                  "credential_id": 1, "programming_language": language,
                  "framework": framework, "engine_version": found["engine_version"],
                  "default_branch": "main",
                  "install_dependencies_command": found["install_dependencies_command"],
                  "build_command": found["build_command"]},
            headers=t.headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["install_dependencies_command"] == found["install_dependencies_command"]
