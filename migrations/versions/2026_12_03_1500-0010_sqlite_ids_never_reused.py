"""SQLite: ids are never reused

Without AUTOINCREMENT, SQLite gives a new row the highest id + 1, so deleting the newest
server (application, action...) hands its id to the next one: the new record shows the
deleted one's action history, and clients holding the old id reach the new record. Every
table with an integer `id` key is rebuilt with AUTOINCREMENT (batch mode copies the rows,
indexes, foreign keys and named constraints). PostgreSQL sequences never reuse ids.

Revision ID: 0010_sqlite_ids
Revises: 0009_step_remote
Create Date: 2026-12-03 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_sqlite_ids"
down_revision: str | None = "0009_step_remote"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _integer_id_tables(bind: sa.engine.Connection) -> list[str]:
    inspector = sa.inspect(bind)
    tables = []
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        if inspector.get_pk_constraint(table)["constrained_columns"] != ["id"]:
            continue
        column = next(c for c in inspector.get_columns(table) if c["name"] == "id")
        if isinstance(column["type"], sa.Integer):
            tables.append(table)
    return tables


def _rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in _integer_id_tables(bind):
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
