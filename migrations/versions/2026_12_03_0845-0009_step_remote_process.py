"""action_steps.remote_process: how to find and stop a step's processes on its server

Written before the step starts (marker, SSH user, the user it runs as), cleared once
the step is known to have ended, so the reaper, cancel, timeouts and a retry can stop
it from any worker, not only the one that started it.

Revision ID: 0009_step_remote
Revises: 0008
Create Date: 2026-12-03 08:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_step_remote"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("action_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_process", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("action_steps", schema=None) as batch_op:
        batch_op.drop_column("remote_process")
