"""tenancy: environments, teams, memberships, team links, invitations; predefined roles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:20:17.387216
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import app.core.database

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The permission catalogue as it stands at this revision, frozen here so that replaying the
# migration later seeds the same roles whatever the application's catalogue has become.
_RESOURCES = {
    "organization": (), "project": (), "environment": ("archive",), "team": (), "role": (),
    "api_token": (),
    "server": ("deploy", "start", "stop", "restart", "get-status", "rotate-key"),
    "application": ("deploy",),
    "service": ("deploy", "start", "stop", "restart", "reload", "get-status"),
    "daemon": ("deploy", "start", "stop", "restart", "get-status"),
    "cronjob": ("deploy",), "credential": ("get-status",), "network": ("get-status",),
    "network-rule": ("deploy",), "subnet": (), "ssh-key": ("deploy",),
    "ssl-certificate": ("deploy",), "virtual-host": ("deploy", "get-status"), "variable": (),
    "pipeline": (), "hook": ("trigger",), "action": ("retry",),
}
_ALL = sorted(
    f"{rt}:{op}" for rt, extra in _RESOURCES.items()
    for op in ("read", "create", "update", "delete", *extra)
)
_READ = [p for p in _ALL if p.endswith(":read")]
_OPERATE = {"deploy", "start", "stop", "restart", "reload", "get-status", "trigger", "retry"}
_DEPLOY = sorted({*_READ, *(p for p in _ALL if p.split(":", 1)[1] in _OPERATE)})
PREDEFINED_ROLES = [
    ("Owner", "Every permission: manage the project, its environments, teams and resources.",
     _ALL),
    ("Read-only", "See every resource and its status, change nothing.", _READ),
    ("Deployer", "See every resource and run operations on it (deploy, start, stop, restart,"
     " reload, status), without creating, changing or deleting anything.", _DEPLOY),
]


def upgrade() -> None:
    op.create_table('environments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('archived_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('ssh_public_key', sa.Text(), nullable=False),
    sa.Column('ssh_private_key_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_environments_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_environments_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_environments'))
    )
    with op.batch_alter_table('environments', schema=None) as batch_op:
        batch_op.create_index('ix_environments_project_archived', ['project_id', 'archived_at'], unique=False)

    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('photo_url', sa.String(length=2048), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_teams_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_teams_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_teams_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams'))
    )
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teams_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_teams_project_id'), ['project_id'], unique=False)

    op.create_table('team_invitations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('token_encrypted', sa.Text(), nullable=True),
    sa.Column('accepted_from_ip', sa.String(length=64), nullable=True),
    sa.Column('accepted_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_by', sa.Integer(), nullable=True),
    sa.Column('expires_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['accepted_by'], ['users.id'], name=op.f('fk_team_invitations_accepted_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_team_invitations_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_invitations_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_invitations'))
    )
    with op.batch_alter_table('team_invitations', schema=None) as batch_op:
        batch_op.create_index('ix_team_invitations_email_status', ['email', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_team_invitations_team_id'), ['team_id'], unique=False)

    op.create_table('team_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('environment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(CASE WHEN organization_id IS NULL THEN 0 ELSE 1 END + CASE WHEN project_id IS NULL THEN 0 ELSE 1 END + CASE WHEN environment_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_team_links_one_target')),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_team_links_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_team_links_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_team_links_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_team_links_role_id_roles'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_links_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_links')),
    sa.UniqueConstraint('team_id', 'environment_id', name=op.f('uq_team_links_team_id_environment_id')),
    sa.UniqueConstraint('team_id', 'organization_id', name=op.f('uq_team_links_team_id_organization_id')),
    sa.UniqueConstraint('team_id', 'project_id', name=op.f('uq_team_links_team_id_project_id'))
    )
    with op.batch_alter_table('team_links', schema=None) as batch_op:
        batch_op.create_index('ix_team_links_environment_id', ['environment_id'], unique=False)
        batch_op.create_index('ix_team_links_organization_id', ['organization_id'], unique=False)
        batch_op.create_index('ix_team_links_project_id', ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_team_links_role_id'), ['role_id'], unique=False)

    op.create_table('team_members',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_members_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_team_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_team_members'))
    )
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_members_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('roles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_roles_project_id'), ['project_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_roles_project_id_projects'), 'projects', ['project_id'], ['id'], ondelete='CASCADE')

    roles = sa.table(
        "roles",
        sa.column("name", sa.String), sa.column("description", sa.String),
        sa.column("is_predefined", sa.Boolean), sa.column("permissions", sa.JSON),
        sa.column("created_at", app.core.database.UTCDateTime(timezone=True)),
        sa.column("updated_at", app.core.database.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(roles, [
        {"name": name, "description": description, "is_predefined": True,
         "permissions": permissions, "created_at": now, "updated_at": now}
        for name, description, permissions in PREDEFINED_ROLES
    ])



def downgrade() -> None:
    # Seeded roles go with this revision unless a token still uses one (kept, not broken).
    op.execute(
        sa.text(
            "DELETE FROM roles WHERE is_predefined = :yes AND organization_id IS NULL"
            " AND created_by IS NULL AND name IN ('Owner', 'Read-only', 'Deployer')"
            " AND id NOT IN (SELECT role_id FROM api_tokens WHERE role_id IS NOT NULL)"
        ).bindparams(yes=True)
    )
    with op.batch_alter_table('roles', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_roles_project_id_projects'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_roles_project_id'))
        batch_op.drop_column('project_id')

    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_members_user_id'))

    op.drop_table('team_members')
    with op.batch_alter_table('team_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_links_role_id'))
        batch_op.drop_index('ix_team_links_project_id')
        batch_op.drop_index('ix_team_links_organization_id')
        batch_op.drop_index('ix_team_links_environment_id')

    op.drop_table('team_links')
    with op.batch_alter_table('team_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_invitations_team_id'))
        batch_op.drop_index('ix_team_invitations_email_status')

    op.drop_table('team_invitations')
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teams_project_id'))
        batch_op.drop_index(batch_op.f('ix_teams_organization_id'))

    op.drop_table('teams')
    with op.batch_alter_table('environments', schema=None) as batch_op:
        batch_op.drop_index('ix_environments_project_archived')

    op.drop_table('environments')
