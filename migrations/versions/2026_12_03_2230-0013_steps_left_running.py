"""action_steps: partial index on the steps that may have left processes on a server

Every action, before it connects, looks for steps of earlier actions on its servers that
may still be running there (`remote_process` set). Without this index PostgreSQL read the
whole of action_steps for it (seen in the fan-out benchmark: a sequential scan per action),
a cost that grows with the history of every action ever run. Such steps are few: the
column is cleared when a step ends.

Revision ID: 0013_steps_left_running
Revises: 0012_environments_by_name
Create Date: 2026-12-03 22:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_steps_left_running"
down_revision: str | None = "0012_environments_by_name"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("remote_process IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_action_steps_left_running", "action_steps", ["action_target_id"],
                    postgresql_where=_WHERE, sqlite_where=_WHERE)


def downgrade() -> None:
    op.drop_index("ix_action_steps_left_running", table_name="action_steps")
