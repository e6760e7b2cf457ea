"""environments: index (project_id, name, id), the order a project's environments are listed in

A page of `GET /projects/{id}/environments` is read off this index in order; before, every
environment of the project was read and sorted to return twenty.

Revision ID: 0012_environments_by_name
Revises: 0011_access_notices
Create Date: 2026-12-03 19:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0012_environments_by_name"
down_revision: str | None = "0011_access_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_environments_project_name", "environments",
                    ["project_id", "name", "id"])


def downgrade() -> None:
    op.drop_index("ix_environments_project_name", table_name="environments")
