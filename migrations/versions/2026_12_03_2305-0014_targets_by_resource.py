"""Indexes for reads that went through the whole history of actions

- action_targets (resource_type, resource_id, action_id): `GET /actions/targets/{type}/{id}`
  (a server's actions, say) counted and paged through every target ever run to find the
  ones of that resource.
- actions (retry_of): an action's retries (`children` of `GET /actions/{id}`) were found by
  reading every action, and deleting an action (or the environment or project holding
  thousands) read every action once per deleted one for the foreign key.

Revision ID: 0014_targets_by_resource
Revises: 0013_steps_left_running
Create Date: 2026-12-03 23:05:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0014_targets_by_resource"
down_revision: str | None = "0013_steps_left_running"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_action_targets_resource", "action_targets",
                    ["resource_type", "resource_id", "action_id"])
    op.create_index("ix_actions_retry_of", "actions", ["retry_of"])


def downgrade() -> None:
    op.drop_index("ix_actions_retry_of", table_name="actions")
    op.drop_index("ix_action_targets_resource", table_name="action_targets")
