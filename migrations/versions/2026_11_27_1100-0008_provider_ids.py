"""servers, networks, subnets: provider ids as long as Azure resource ids

Azure names a VM, a virtual network or a subnet by its full resource id
(/subscriptions/<id>/resourceGroups/<group>/providers/...), which can run past 300
characters; 512 holds the longest the naming limits allow.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 11:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("servers", "provider_instance_id", 128), ("networks", "provider_id", 255),
            ("subnets", "provider_id", 255))


def upgrade() -> None:
    for table, column, length in _COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length),
                                  type_=sa.String(512), existing_nullable=True)


def downgrade() -> None:
    for table, column, length in _COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(512),
                                  type_=sa.String(length), existing_nullable=True)
