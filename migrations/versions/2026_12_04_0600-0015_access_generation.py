"""Who-may-do-what carries a generation number in the database, moved by every writer

Migration 0011 told API processes of access changes with NOTIFY, heard on a listening
connection a moment after the commit: a request served in that moment still used what
the process had cached (a revoked token answered 200 once in CI). Now the tables that
decide a bearer's identity and permissions move `access_generation.value` in the writing
transaction itself, and a request reads that one row before it trusts anything cached: a
change committed before the request is seen by it, on every process, on both databases.

On PostgreSQL the triggers are deferred constraint triggers that move the row once per
transaction, at commit: the row's lock is then the last one a writer takes and is held
only while it commits, so two writers cannot deadlock over it. SQLite serializes writers
anyway and gets plain row triggers. The NOTIFY triggers of 0011 go.

Revision ID: 0015_access_generation
Revises: 0014_targets_by_resource
Create Date: 2026-12-04 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_access_generation"
down_revision: str | None = "0014_targets_by_resource"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the events that change access (UPDATE OF: only when one of these is set; a
# token's `last_used_at` or a user's profile do not move the generation).
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
BUMP = "UPDATE access_generation SET value = value + 1 WHERE name = 'access'"
# Set for the rest of the writing transaction once the row moved (transaction-local).
FLAG = "devopness.access_moved"


def _trigger(table: str, index: int) -> str:
    return f"devopness_access_{table}_{index}"


def upgrade() -> None:
    op.create_table(
        "access_generation",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_access_generation")),
    )
    op.execute("INSERT INTO access_generation (name, value) VALUES ('access', 0)")
    if op.get_bind().dialect.name == "postgresql":
        for table, events in WATCHED.items():
            for index in range(len(events)):
                op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table, index)} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS devopness_access_changed()")
        op.execute(
            "CREATE FUNCTION devopness_access_moved() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF current_setting('{FLAG}', true) IS DISTINCT FROM 'on' THEN {BUMP}; "
            f"PERFORM set_config('{FLAG}', 'on', true); END IF; RETURN NULL; END $$"
        )
        for table, events in WATCHED.items():
            for index, event in enumerate(events):
                op.execute(
                    f"CREATE CONSTRAINT TRIGGER {_trigger(table, index)} AFTER {event} "
                    f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                    "EXECUTE FUNCTION devopness_access_moved()"
                )
        return
    for table, events in WATCHED.items():
        for index, event in enumerate(events):
            op.execute(
                f"CREATE TRIGGER {_trigger(table, index)} AFTER {event} ON {table} "
                f"FOR EACH ROW BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, events in WATCHED.items():
        for index in range(len(events)):
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table, index)}"
                       + (f" ON {table}" if postgresql else ""))
    op.drop_table("access_generation")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS devopness_access_moved()")
        # 0011's notices, as they were.
        op.execute(
            "CREATE FUNCTION devopness_access_changed() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "PERFORM pg_notify('devopness_access', TG_TABLE_NAME); RETURN NULL; END $$"
        )
        for table, events in WATCHED.items():
            for index, event in enumerate(events):
                op.execute(
                    f"CREATE TRIGGER {_trigger(table, index)} AFTER {event} ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION devopness_access_changed()"
                )
