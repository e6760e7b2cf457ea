"""The `devopness-server` command line."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

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
    except ValidationError as exc:
        # By the variable the operator sets, and without the value: a URL holds a password.
        for error in exc.errors():
            # pydantic prefixes our own validators' words; the variable is the useful part.
            reason = error["msg"].removeprefix("Value error, ")
            field = f"{str(error['loc'][0]).upper()}: " if error["loc"] else ""
            typer.echo(f"Configuration error: {field}{reason}", err=True)
        raise typer.Exit(2) from exc
    except ValueError as exc:
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
        "launcher.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        # Live readers are told to reconnect at once (app/ops/shutdown.py); this bounds
        # whatever else is still in flight.
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds) - 1),
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
    from app.users.bootstrap import InvalidUser, create_user_with_token

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
    except InvalidUser as exc:
        for option, reason in exc.errors:
            typer.echo(f"error: --{option}: {reason}", err=True)
        raise typer.Exit(1) from exc
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


@cli.command("reencrypt-secrets")
def reencrypt_secrets(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be re-sealed; change nothing.")
    ] = False,
) -> None:
    """Re-seal stored secrets with SECRET_KEY after a key rotation.

    Set SECRET_KEY to the new key and PREVIOUS_SECRET_KEY to the old one, then run this.
    """
    import app.models  # noqa: F401  (every domain registers its sealed columns on import)
    from app.core.database import Database
    from app.core.sealed import reencrypt_all

    settings = _settings()
    if not settings.previous_secret_key:
        typer.echo(
            "PREVIOUS_SECRET_KEY is not set: set it to the key in use before SECRET_KEY "
            "changed.",
            err=True,
        )
        raise typer.Exit(2)

    async def run() -> Any:
        database = Database(settings)
        try:
            return await reencrypt_all(database, dry_run=dry_run)
        finally:
            await database.dispose()

    report = asyncio.run(run())
    verb = "would re-seal" if dry_run else "re-sealed"
    for name, count in sorted(report.resealed.items()):
        typer.echo(f"{verb} {count} value(s) in {name}")
    typer.echo(f"{report.current} value(s) already sealed with SECRET_KEY")
    if report.unreadable:
        typer.echo(
            "unreadable with either key: " + ", ".join(report.unreadable[:20]), err=True
        )
        raise typer.Exit(1)


@cli.command()
def backup(
    output: Annotated[Path, typer.Option(help="Archive to write (.tar.gz).")],
) -> None:
    """Write a consistent backup of the database (the SECRET_KEY is never included)."""
    from app.ops.backup import BackupError
    from app.ops.backup import backup as make_backup

    try:
        manifest = make_backup(_settings(), output)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"wrote {output} ({manifest.database}, revision {manifest.revision}, "
        f"key fingerprint {manifest.key_fingerprint}); keep SECRET_KEY backed up separately"
    )


@cli.command()
def restore(
    archive: Annotated[Path, typer.Option("--input", help="Backup archive to restore.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the current data.")] = False,
    ignore_key_mismatch: Annotated[
        bool, typer.Option(help="Restore although SECRET_KEY differs (secrets are lost).")
    ] = False,
) -> None:
    """Replace the database's contents with a backup, then apply newer migrations."""
    from app.ops.backup import BackupError
    from app.ops.backup import restore as do_restore

    if not yes:
        typer.echo("restore replaces every row in the database; pass --yes to proceed", err=True)
        raise typer.Exit(2)
    try:
        manifest = do_restore(_settings(), archive, ignore_key_mismatch=ignore_key_mismatch)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"restored backup of {manifest.created_at} (revision {manifest.revision})")


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Run a Celery worker that executes actions (needs REDIS_URL)."""
    settings = _settings()
    if not settings.redis_url:
        typer.echo("REDIS_URL is not set: actions run inside `serve`; no worker needed.", err=True)
        raise typer.Exit(2)
    if metrics_port is not None:
        from workers.metrics import serve_worker_metrics

        serve_worker_metrics(metrics_port)
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


@cli.command("catalogue-refresh")
def catalogue_refresh(
    services: Annotated[
        list[str] | None,
        typer.Argument(help="Cloud service codes, e.g. aws-ec2 (default: each one that has "
                            "a credential in the environment)."),
    ] = None,
    credential_id: Annotated[
        int | None, typer.Option(help="Use this stored cloud credential (its service only).")
    ] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="Only this region (repeatable).")
    ] = None,
    instance_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only types matching this pattern, e.g. 't3.*' "
                                    "(repeatable)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Folder for <code>.json (default: CATALOGUE_DIR, else the "
                          "catalogue this package ships)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Ask the providers, report, write nothing.")
    ] = False,
) -> None:
    """Refresh the regions, instance types and prices of the cloud catalogue from the
    providers' APIs.

    Credentials come from --credential-id or the providers' usual variables:
    AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, DIGITALOCEAN_TOKEN, HCLOUD_TOKEN,
    GOOGLE_APPLICATION_CREDENTIALS (a service account key file), AZURE_TENANT_ID +
    AZURE_SUBSCRIPTION_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET.
    """
    import app.models  # noqa: F401  (a stored credential needs the whole mapped schema)
    from app.catalogue.refresh import RefreshError, refresh_catalogues

    settings = _settings()
    try:
        outcomes = asyncio.run(refresh_catalogues(
            settings, codes=services or [], credential_id=credential_id,
            only_regions=region or [], only_types=instance_type or [], output=output,
            dry_run=dry_run,
        ))
    except RefreshError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for outcome in outcomes:
        if outcome.skipped:
            typer.echo(f"{outcome.code}: skipped, {outcome.skipped}", err=True)
        elif outcome.error:
            typer.echo(f"{outcome.code}: not refreshed, {outcome.error}", err=True)
        if outcome.report:
            for line in outcome.report.lines():
                typer.echo(line)
            typer.echo(f"  wrote {outcome.path}" if outcome.path else "  (dry run: not written)")
    if not any(o.report for o in outcomes) or any(o.failed for o in outcomes):
        raise typer.Exit(1)


def main() -> None:
    from sqlalchemy.exc import OperationalError

    try:
        cli(prog_name="devopness-server")
    except OperationalError as exc:
        # Down, unreachable, wrong password, no such database: the driver's own words say
        # which, and a traceback through the pool says nothing more to an operator.
        reason = " ".join(str(exc.orig or exc).split())
        typer.echo(f"Database error: {reason}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
