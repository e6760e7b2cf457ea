"""credentials: credentials and environment links, networks, subnets, hooks, hook requests,
resource links, resource events, social accounts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 04:30:42.955833
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.database

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('social_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('provider_user_id', sa.String(length=128), nullable=False),
    sa.Column('provider_user_nickname', sa.String(length=255), nullable=False),
    sa.Column('token_encrypted', sa.Text(), nullable=False),
    sa.Column('refresh_token_encrypted', sa.Text(), nullable=True),
    sa.Column('token_expires_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_social_accounts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_accounts')),
    sa.UniqueConstraint('user_id', 'provider', name='uq_social_accounts_user_provider')
    )
    with op.batch_alter_table('social_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_social_accounts_user_id'), ['user_id'], unique=False)

    op.create_table('credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('provider_code', sa.String(length=32), nullable=False),
    sa.Column('provider_type', sa.String(length=32), nullable=False),
    sa.Column('auth_type', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('settings_encrypted', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('status_message', sa.String(length=500), nullable=True),
    sa.Column('status_checked_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_credentials_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_credentials_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_credentials_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credentials'))
    )
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credentials_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credentials_project_id'), ['project_id'], unique=False)

    op.create_table('credential_environments',
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], name=op.f('fk_credential_environments_credential_id_credentials'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_credential_environments_environment_id_environments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('credential_id', 'environment_id', name=op.f('pk_credential_environments'))
    )
    with op.batch_alter_table('credential_environments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credential_environments_environment_id'), ['environment_id'], unique=False)

    op.create_table('hooks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=3), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('action_type', sa.String(length=32), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=True),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('requires_secret', sa.Boolean(), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('secret_algorithm', sa.String(length=20), nullable=True),
    sa.Column('secret_header_name', sa.String(length=64), nullable=True),
    sa.Column('verify_ssl', sa.Boolean(), nullable=False),
    sa.Column('target_url', sa.String(length=2048), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('trigger_when', sa.JSON(), nullable=False),
    sa.Column('is_auto_generated', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_hooks_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_hooks_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_hooks_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hooks'))
    )
    with op.batch_alter_table('hooks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hooks_environment_id'), ['environment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hooks_pipeline_id'), ['pipeline_id'], unique=False)

    op.create_table('networks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('provider_name', sa.String(length=32), nullable=False),
    sa.Column('cloud_service_code', sa.String(length=40), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('cidr_block', sa.String(length=43), nullable=True),
    sa.Column('is_auto_generated', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_networks_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], name=op.f('fk_networks_credential_id_credentials'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_networks_environment_id_environments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_networks_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_networks')),
    sa.UniqueConstraint('environment_id', 'name', name='uq_networks_env_name')
    )
    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_networks_credential_id'), ['credential_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_networks_environment_id'), ['environment_id'], unique=False)

    op.create_table('resource_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.Column('triggered_by', sa.Integer(), nullable=True),
    sa.Column('token_id', sa.String(length=64), nullable=True),
    sa.Column('principal_kind', sa.String(length=32), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_resource_events_environment_id_environments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_events'))
    )
    with op.batch_alter_table('resource_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_events_environment_id'), ['environment_id'], unique=False)
        batch_op.create_index('ix_resource_events_resource', ['resource_type', 'resource_id', 'id'], unique=False)

    op.create_table('resource_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_type', sa.String(length=40), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=False),
    sa.Column('child_type', sa.String(length=40), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('can_be_unlinked', sa.Boolean(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_resource_links_environment_id_environments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_links')),
    sa.UniqueConstraint('parent_type', 'parent_id', 'child_type', 'child_id', name='uq_resource_links_pair')
    )
    with op.batch_alter_table('resource_links', schema=None) as batch_op:
        batch_op.create_index('ix_resource_links_child', ['child_type', 'child_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_links_environment_id'), ['environment_id'], unique=False)

    op.create_table('hook_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('hook_id', sa.String(length=36), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('retry_of', sa.String(length=36), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('request_headers', sa.JSON(), nullable=False),
    sa.Column('request_body', sa.JSON(), nullable=True),
    sa.Column('response_status_code', sa.Integer(), nullable=False),
    sa.Column('response_headers', sa.JSON(), nullable=False),
    sa.Column('response_body', sa.JSON(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hook_id'], ['hooks.id'], name=op.f('fk_hook_requests_hook_id_hooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hook_requests'))
    )
    with op.batch_alter_table('hook_requests', schema=None) as batch_op:
        batch_op.create_index('ix_hook_requests_hook_created', ['hook_id', 'created_at'], unique=False)

    op.create_table('subnets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('zone', sa.String(length=64), nullable=True),
    sa.Column('cidr_block', sa.String(length=43), nullable=False),
    sa.Column('is_auto_generated', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_subnets_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], name=op.f('fk_subnets_credential_id_credentials'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_subnets_environment_id_environments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_subnets_network_id_networks'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_subnets_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subnets')),
    sa.UniqueConstraint('network_id', 'name', name='uq_subnets_network_name')
    )
    with op.batch_alter_table('subnets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subnets_credential_id'), ['credential_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subnets_environment_id'), ['environment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subnets_network_id'), ['network_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('subnets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subnets_network_id'))
        batch_op.drop_index(batch_op.f('ix_subnets_environment_id'))
        batch_op.drop_index(batch_op.f('ix_subnets_credential_id'))

    op.drop_table('subnets')
    with op.batch_alter_table('hook_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_hook_requests_hook_created')

    op.drop_table('hook_requests')
    with op.batch_alter_table('resource_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_links_environment_id'))
        batch_op.drop_index('ix_resource_links_child')

    op.drop_table('resource_links')
    with op.batch_alter_table('resource_events', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_events_resource')
        batch_op.drop_index(batch_op.f('ix_resource_events_environment_id'))

    op.drop_table('resource_events')
    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_networks_environment_id'))
        batch_op.drop_index(batch_op.f('ix_networks_credential_id'))

    op.drop_table('networks')
    with op.batch_alter_table('hooks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hooks_pipeline_id'))
        batch_op.drop_index(batch_op.f('ix_hooks_environment_id'))

    op.drop_table('hooks')
    with op.batch_alter_table('credential_environments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credential_environments_environment_id'))

    op.drop_table('credential_environments')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credentials_project_id'))
        batch_op.drop_index(batch_op.f('ix_credentials_organization_id'))

    op.drop_table('credentials')
    with op.batch_alter_table('social_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_social_accounts_user_id'))

    op.drop_table('social_accounts')
