"""PostgreSQL tells every API process when who-may-do-what changes (LISTEN/NOTIFY)

Statement-level triggers on the tables that decide a bearer's identity and permissions
send `NOTIFY devopness_access` in the writing transaction; PostgreSQL delivers it at
commit, whoever wrote (the API, a worker, the CLI, hand-written SQL). API processes drop
their token and permission caches when it arrives (app/core/changes.py). Only the columns
that decide access fire: a token's `last_used_at` or a user's profile do not.

SQLite has no such channel: there the caches stay off (one process, nothing to share).

Revision ID: 0011_access_notices
Revises: 0010_sqlite_ids
Create Date: 2026-12-03 18:15:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0011_access_notices"
down_revision: str | None = "0010_sqlite_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "devopness_access"

# table -> the events that change access (UPDATE OF: only when one of these is set).
WATCHED: dict[str, list[str]] = {
    "api_tokens": ["DELETE", "UPDATE OF revoked_at, expires_at, role_id, user_id, project_id,"
                             " token_hash, type"],
    "users": ["DELETE", "UPDATE OF active"],
    "auth_sessions": ["DELETE", "UPDATE OF revoked_at, expires_at, user_id"],
    "roles": ["DELETE", "UPDATE OF permissions"],
    "teams": ["DELETE", "UPDATE OF organization_id, project_id"],
    "team_members": ["INSERT", "DELETE", "UPDATE"],
    "team_links": ["INSERT", "DELETE", "UPDATE"],
    "organizations": ["DELETE", "UPDATE OF owner_id"],
    "projects": ["DELETE", "UPDATE OF user_id, organization_id"],
    "environments": ["INSERT", "DELETE", "UPDATE OF project_id"],
}


def _trigger(table: str, index: int) -> str:
    return f"devopness_access_{table}_{index}"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION devopness_access_changed() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table, events in WATCHED.items():
        for index, event in enumerate(events):
            op.execute(
                f"CREATE TRIGGER {_trigger(table, index)} AFTER {event} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION devopness_access_changed()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, events in WATCHED.items():
        for index in range(len(events)):
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table, index)} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS devopness_access_changed()")
