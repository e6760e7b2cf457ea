"""The `devopness-server` command line."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from app.core import migrations
from app.core.settings import Settings, get_settings

cli = typer.Typer(
    help="Self-hosted server for the Devopness REST API.",
    no_args_is_help=True,
    add_completion=False,
)

DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        typer.echo(f"Configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only).")] = 1,
    migrate_first: Annotated[
        bool | None,
        typer.Option(
            "--migrate/--no-migrate",
            help="Apply pending migrations first (default: on for SQLite, off otherwise).",
        ),
    ] = None,
) -> None:
    """Run the API server."""
    import uvicorn

    settings = _settings()
    if migrate_first if migrate_first is not None else settings.is_sqlite:
        migrations.upgrade(settings)
    if settings.is_sqlite and workers > 1:
        typer.echo("SQLite runs one worker process; use PostgreSQL to scale out.", err=True)
        workers = 1
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
    )


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (to the newest revision by default)."""
    migrations.upgrade(_settings(), revision)
    typer.echo(f"database at {revision}")


@cli.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Login e-mail address.")],
    password: Annotated[str, typer.Option(help="Password (at least 8 characters).")],
    name: Annotated[str, typer.Option(help="Full name.")],
    token_days: Annotated[int, typer.Option(help="Lifetime of the printed token.")] = 365,
) -> None:
    """Create an active user and print a personal access token for it (shown once)."""
    from app.users.bootstrap import create_user_with_token

    settings = _settings()
    if settings.is_sqlite:
        migrations.upgrade(settings)
    try:
        user_id, token = asyncio.run(
            create_user_with_token(
                settings,
                email=email,
                password=password,
                name=name,
                token_expires_at=datetime.now(UTC) + timedelta(days=token_days),
            )
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created user {user_id} <{email}>", err=True)
    typer.echo("personal access token (shown once, keep it safe):", err=True)
    typer.echo(token)


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = (
        DEFAULT_OPENAPI_PATH
    ),
) -> None:
    """Write this server's OpenAPI document."""
    from app.main import create_app

    document = create_app(Settings()).openapi()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    typer.echo(f"wrote {output}")


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
) -> None:
    """Run a Celery worker that executes actions (needs REDIS_URL)."""
    settings = _settings()
    if not settings.redis_url:
        typer.echo("REDIS_URL is not set: actions run inside `serve`; no worker needed.", err=True)
        raise typer.Exit(2)
    from workers.celery_app import celery_app

    celery_app.worker_main(
        ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", "-Q", "actions,celery"]
    )


@cli.command()
def beat(loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO") -> None:
    """Run the Celery beat scheduler (periodic jobs such as the action reaper)."""
    settings = _settings()
    if not settings.redis_url:
        typer.echo("REDIS_URL is not set: periodic jobs run inside `serve`.", err=True)
        raise typer.Exit(2)
    from workers.celery_app import celery_app

    celery_app.start(["beat", f"--loglevel={loglevel}"])


def main() -> None:
    cli(prog_name="devopness-server")


if __name__ == "__main__":
    main()
