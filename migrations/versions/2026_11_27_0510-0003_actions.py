"""actions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 05:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.database

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('server_slot_locks',
    sa.Column('server_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('server_id', name=op.f('pk_server_slot_locks'))
    )
    op.create_table('pipelines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.BigInteger(), nullable=False),
    sa.Column('operation', sa.String(length=20), nullable=False),
    sa.Column('max_parallel_actions', sa.Integer(), nullable=False),
    sa.Column('trigger_when', sa.JSON(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('organization_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_pipelines_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_pipelines_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_pipelines_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines'))
    )
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pipelines_environment_id'), ['environment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pipelines_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_pipelines_resource', ['resource_type', 'resource_id', 'operation'], unique=False)

    op.create_table('actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason_code', sa.String(length=40), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=True),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.BigInteger(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=True),
    sa.Column('retry_of', sa.Integer(), nullable=True),
    sa.Column('environment_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('organization_id', sa.BigInteger(), nullable=True),
    sa.Column('trigger_comment', sa.String(length=255), nullable=True),
    sa.Column('triggered_from', sa.JSON(), nullable=False),
    sa.Column('triggered_by', sa.Integer(), nullable=True),
    sa.Column('action_data', sa.JSON(), nullable=True),
    sa.Column('time_limit_seconds', sa.Integer(), nullable=True),
    sa.Column('cancel_requested_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('worker_id', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_actions_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_actions_pipeline_id_pipelines'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_actions_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['retry_of'], ['actions.id'], name=op.f('fk_actions_retry_of_actions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['triggered_by'], ['users.id'], name=op.f('fk_actions_triggered_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions'))
    )
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_actions_environment_id'), ['environment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_actions_pipeline_id'), ['pipeline_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_actions_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_actions_resource', ['resource_type', 'resource_id'], unique=False)
        batch_op.create_index('ix_actions_status_heartbeat', ['status', 'heartbeat_at'], unique=False)

    op.create_table('pipeline_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('command', sa.Text(), nullable=False),
    sa.Column('runner', sa.String(length=20), nullable=False),
    sa.Column('run_as_user', sa.String(length=60), nullable=True),
    sa.Column('trigger_order', sa.Integer(), nullable=False),
    sa.Column('timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('is_auto_generated', sa.Boolean(), nullable=False),
    sa.Column('is_default_step', sa.Boolean(), nullable=False),
    sa.Column('linked', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_pipeline_steps_pipeline_id_pipelines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_steps'))
    )
    with op.batch_alter_table('pipeline_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pipeline_steps_pipeline_id'), ['pipeline_id'], unique=False)

    op.create_table('action_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.BigInteger(), nullable=False),
    sa.Column('server_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason_code', sa.String(length=40), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=True),
    sa.Column('max_parallel_actions', sa.Integer(), nullable=False),
    sa.Column('resource_data', sa.JSON(), nullable=True),
    sa.Column('total_steps', sa.Integer(), nullable=False),
    sa.Column('current_step_order', sa.Integer(), nullable=True),
    sa.Column('heartbeat_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_action_targets_action_id_actions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_targets'))
    )
    with op.batch_alter_table('action_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_targets_action_id'), ['action_id'], unique=False)
        batch_op.create_index('ix_action_targets_server_status', ['server_id', 'status'], unique=False)

    op.create_table('action_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('action_target_id', sa.Integer(), nullable=False),
    sa.Column('order', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('command', sa.Text(), nullable=False),
    sa.Column('run_as_user', sa.String(length=60), nullable=True),
    sa.Column('timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason_code', sa.String(length=40), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('log_chunks', sa.Integer(), nullable=False),
    sa.Column('log_bytes', sa.BigInteger(), nullable=False),
    sa.Column('log_updated_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_action_steps_action_id_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['action_target_id'], ['action_targets.id'], name=op.f('fk_action_steps_action_target_id_action_targets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_steps')),
    sa.UniqueConstraint('action_target_id', 'order', name=op.f('uq_action_steps_action_target_id_order'))
    )
    with op.batch_alter_table('action_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_steps_action_id'), ['action_id'], unique=False)

    op.create_table('action_log_chunks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action_step_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['action_step_id'], ['action_steps.id'], name=op.f('fk_action_log_chunks_action_step_id_action_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_log_chunks')),
    sa.UniqueConstraint('action_step_id', 'seq', name=op.f('uq_action_log_chunks_action_step_id_seq'))
    )


def downgrade() -> None:
    op.drop_table('action_log_chunks')
    with op.batch_alter_table('action_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_steps_action_id'))

    op.drop_table('action_steps')
    with op.batch_alter_table('action_targets', schema=None) as batch_op:
        batch_op.drop_index('ix_action_targets_server_status')
        batch_op.drop_index(batch_op.f('ix_action_targets_action_id'))

    op.drop_table('action_targets')
    with op.batch_alter_table('pipeline_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pipeline_steps_pipeline_id'))

    op.drop_table('pipeline_steps')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index('ix_actions_status_heartbeat')
        batch_op.drop_index('ix_actions_resource')
        batch_op.drop_index(batch_op.f('ix_actions_project_id'))
        batch_op.drop_index(batch_op.f('ix_actions_pipeline_id'))
        batch_op.drop_index(batch_op.f('ix_actions_environment_id'))

    op.drop_table('actions')
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.drop_index('ix_pipelines_resource')
        batch_op.drop_index(batch_op.f('ix_pipelines_project_id'))
        batch_op.drop_index(batch_op.f('ix_pipelines_environment_id'))

    op.drop_table('pipelines')
    op.drop_table('server_slot_locks')
