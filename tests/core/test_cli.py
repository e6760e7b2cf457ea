"""The command line, run as a user would, against a fresh SQLite file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from launcher.cli import cli
from tests.conftest import ROOT


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env["SECRET_KEY"] = "cli-test-secret-key-value"
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher.cli", *args],
        cwd=ROOT,
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_user_prints_a_working_token(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        "create-user",
        "--email",
        "Boot@Example.com",
        "--password",
        "long-password",
        "--name",
        "Boot Strap",
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("devopness_pat_")
    assert "created user" in result.stderr

    again = _run(
        tmp_path,
        "create-user",
        "--email",
        "boot@example.com",
        "--password",
        "long-password",
        "--name",
        "Boot Strap",
    )
    assert again.returncode == 1 and "already exists" in again.stderr

    bad = _run(
        tmp_path, "create-user", "--email", "x@example.com", "--password", "short", "--name", "Bad"
    )
    assert bad.returncode == 1 and bad.stdout == ""

    # The printed token authenticates against a server on the same database.
    from app.core.settings import Settings
    from app.main import create_app

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        secret_key="cli-test-secret-key-value",
        _env_file=None,
    )  # type: ignore[call-arg]
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)

    async def me() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            response = await c.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        await app.state.database.dispose()
        return response

    import asyncio

    r = asyncio.run(me())
    assert r.status_code == 200 and r.json()["email"] == "boot@example.com"


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--name", "Me", "at least 3 characters"),
        ("--password", "short", "at least 8 characters"),
        ("--email", "not-an-address", "email"),
    ],
)
def test_create_user_names_the_option_it_refuses(
    tmp_path: Path, option: str, value: str, words: str
) -> None:
    """An operator bootstrapping a server sees which option to fix, not only why."""
    values = {"--email": "ok@example.com", "--password": "long-password", "--name": "Ok Name"}
    values[option] = value
    result = _run(tmp_path, "create-user", *[w for pair in values.items() for w in pair])
    assert result.returncode == 1 and result.stdout == ""
    assert f"error: {option}: " in result.stderr, result.stderr
    assert words in result.stderr.lower(), result.stderr
    assert "token" not in result.stderr, result.stderr


def test_create_user_names_every_option_it_refuses_at_once(tmp_path: Path) -> None:
    result = _run(tmp_path, "create-user", "--email", "ok@example.com",
                  "--password", "short", "--name", "Me")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert any(line.startswith("error: --name: ") for line in lines), lines
    assert any(line.startswith("error: --password: ") for line in lines), lines


def test_a_plain_sqlite_url_works_as_the_async_one(tmp_path: Path) -> None:
    """`sqlite:///path` is how most tools spell a SQLite file; migrate accepted it, and every
    command that opened the database then failed with a traceback about drivers."""
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    result = _run(tmp_path, "create-user", "--email", "plain@example.com", "--password",
                  "long-password", "--name", "Plain Url", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("devopness_pat_")
    assert (tmp_path / "plain.db").exists()


@pytest.mark.parametrize(
    "url",
    ["mysql://root:hunter2-secret@127.0.0.1/devopness", "postgresql+asyncpg://u:hunter2-secret@127.0.0.1:1/d",
     "hunter2-secret", "oracle://u:hunter2-secret@127.0.0.1:1/d"],
)
def test_an_unsupported_database_url_is_a_configuration_error(tmp_path: Path, url: str) -> None:
    result = _run(tmp_path, "migrate", DATABASE_URL=url)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "│" not in result.stderr, result.stderr
    assert result.stderr.startswith("Configuration error: DATABASE_URL: "), result.stderr
    assert "postgresql+psycopg://" in result.stderr and "Value error" not in result.stderr
    # The URL's password reaches neither the terminal nor a log that captures it.
    assert "hunter2-secret" not in result.stderr, result.stderr


def test_a_configuration_error_names_the_variable_to_fix(tmp_path: Path) -> None:
    result = _run(tmp_path, "migrate", DATABASE_POOL_SIZE="many")
    assert result.returncode == 2
    assert "Configuration error: DATABASE_POOL_SIZE: " in result.stderr, result.stderr
    assert "input_value" not in result.stderr and "many" not in result.stderr


@pytest.mark.parametrize("command", [["migrate"], ["create-user", "--email", "a@example.com",
                                                  "--password", "long-password", "--name", "Abc"]])
def test_an_unreachable_database_is_one_clear_line(tmp_path: Path, command: list[str]) -> None:
    """PostgreSQL down or mistyped: the operator reads why in one line, not a traceback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        result = _run(tmp_path, *command,
                      DATABASE_URL=f"postgresql+psycopg://u:hunter2-secret@127.0.0.1:{port}/d")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "│" not in result.stderr, result.stderr
    assert result.stderr.startswith("Database error: "), result.stderr
    assert "refused" in result.stderr and "hunter2-secret" not in result.stderr


def test_migrate_and_production_guard(tmp_path: Path) -> None:
    result = _run(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").is_file()
    guarded = _run(
        tmp_path,
        "migrate",
        ENVIRONMENT="production",
        SECRET_KEY="insecure-development-secret-change-me",
    )
    assert guarded.returncode == 2
    assert guarded.stderr.startswith("Configuration error: SECRET_KEY is the built-in"), (
        guarded.stderr)


def test_worker_needs_redis(tmp_path: Path) -> None:
    result = _run(tmp_path, "worker")
    assert result.returncode == 2 and "REDIS_URL" in result.stderr


@pytest.mark.parametrize(
    "command",
    ["serve", "worker", "beat", "migrate", "create-user", "openapi", "reencrypt-secrets"],
)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
