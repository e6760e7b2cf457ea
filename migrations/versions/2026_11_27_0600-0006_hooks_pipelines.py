"""hooks follow their pipeline

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 06:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Hooks that point at pipelines which no longer exist cannot be triggered; drop them.
    op.execute("DELETE FROM hooks WHERE pipeline_id IS NOT NULL AND pipeline_id NOT IN "
               "(SELECT id FROM pipelines)")
    with op.batch_alter_table("hooks", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_hooks_pipeline_id_pipelines"),
            "pipelines",
            ["pipeline_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("hooks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_hooks_pipeline_id_pipelines"), type_="foreignkey")
