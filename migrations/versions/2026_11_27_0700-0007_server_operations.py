"""servers: own SSH key after rotation, activation nonce, last reported status;
applications: repository holds any git URL

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 07:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.database import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # What the provider calls the network / subnet we created there.
    for table in ("networks", "subnets"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("provider_id", sa.String(255), nullable=True))
    # Applications may name any git URL (self-hosted code), not only `owner/name`.
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.alter_column("repository", existing_type=sa.String(100),
                              type_=sa.String(255), existing_nullable=False)
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ssh_public_key", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ssh_private_key_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("activation_nonce", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("status_details", sa.JSON(), nullable=True))
        # The cloud instance behind a server created through a provider.
        batch_op.add_column(sa.Column("provider_instance_id", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("provider_data", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("status_checked_at", UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    for table in ("networks", "subnets"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("provider_id")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.alter_column("repository", existing_type=sa.String(255),
                              type_=sa.String(100), existing_nullable=False)
    with op.batch_alter_table("servers", schema=None) as batch_op:
        for column in ("provider_data", "provider_instance_id",
                       "status_checked_at", "status_details", "activation_nonce",
                       "ssh_private_key_encrypted", "ssh_public_key"):
            batch_op.drop_column(column)
