"""A small world holding one of every resource the API reads, and a way to grow it.

Rows are written directly (one session, few commits): the statement-count guard needs many
related rows per test, and creating them through the API would dominate the suite's time.
`grow` adds rows of every kind that a GET could read once per row: more list items, more
servers linked to each resource, more targets and steps on the action, more members,
variables, hook requests, events and links.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.catalogue import ALL_PERMISSIONS
from app.actions.default_steps import ensure_default_pipelines
from app.actions.models import Action, ActionLogChunk, ActionStep, ActionTarget, Pipeline
from app.applications.models import Application
from app.core.security import SecretBox, hash_token, new_token
from app.core.settings import Settings
from app.credentials.catalogue import PROVIDERS
from app.credentials.models import Credential, CredentialEnvironment
from app.credentials.secrets import seal
from app.cron_jobs.models import CronJob
from app.daemons.models import Daemon
from app.environments.models import Environment
from app.events.models import ResourceEvent
from app.hooks.models import Hook, HookRequest
from app.network_rules.models import NetworkRule
from app.networks.models import Network, Subnet
from app.organizations.models import Organization
from app.projects.models import Project
from app.resource_links.models import ResourceLink
from app.resources_common.models import ResourceServer
from app.roles.models import Role
from app.servers.models import Server
from app.services.models import Service
from app.social_accounts.models import SocialAccount
from app.ssh_keys.models import SshKey
from app.ssl_certificates.models import SslCertificate
from app.teams.models import (
    Team,
    TeamInvitation,
    TeamInvitationStatus,
    TeamInvitationType,
    TeamLink,
    TeamMember,
)
from app.tokens.models import ApiToken, ApiTokenType
from app.tokens.service import PREFIXES
from app.users.models import User
from app.variables.models import Variable
from app.virtual_hosts.models import VirtualHost
from tests import standins
from tests.factories import (
    create_organization,
    create_project,
    create_user,
    environment_key,
    user_with_token,
)

_seq = itertools.count(1)

@dataclass
class World:
    """`caller` reads: a member of the organization's team whose role grants everything, so
    every read walks the permission checks a non-owner pays for."""

    settings: Settings
    owner: User
    caller: User
    token: str
    organization: Organization
    project: Project
    environment: Environment
    archived: Environment
    role: Role
    team: Team
    member: User
    project_token: ApiToken
    pat: ApiToken
    credential: Credential
    github: Credential
    network: Network
    subnet: Subnet
    server: Server
    application: Application
    daemon: Daemon
    cron_job: CronJob
    service: Service
    network_rule: NetworkRule
    ssh_key: SshKey
    virtual_host: VirtualHost
    ssl_certificate: SslCertificate
    variable: Variable
    pipeline: Pipeline
    incoming: Hook
    outgoing: Hook
    hook_request: HookRequest
    action: Action
    target: ActionTarget
    servers: list[Server] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def params(self) -> dict[str, Any]:
        """Path parameters of the reference, named as it names them, for this world."""
        return {
            "action_id": self.action.id,
            "action_target_id": self.target.id,
            "action_step_order": 1,
            "target_resource_type": "server",
            "target_resource_id": self.server.id,
            "resource_type": "application",
            "resource_id": self.application.id,
            "application_id": self.application.id,
            "credential_id": self.github.id,
            "repository_owner": "octo",
            "repository_name": "repo-1",
            "cron_job_id": self.cron_job.id,
            "daemon_id": self.daemon.id,
            "environment_id": self.environment.id,
            "provider_code": "aws",
            "hook_request_id": self.hook_request.id,
            "hook_type": "incoming",
            "hook_id": self.incoming.id,
            "network_rule_id": self.network_rule.id,
            "network_id": self.network.id,
            "organization_id": self.organization.id,
            "pipeline_id": self.pipeline.id,
            "project_id": self.project.id,
            "token_id": self.project_token.id,
            "link_type": "child",
            "role_id": self.role.id,
            "server_id": self.server.id,
            "service_id": self.service.id,
            "social_account_provider": "github",
            "ssh_key_id": self.ssh_key.id,
            "ssl_certificate_id": self.ssl_certificate.id,
            "cloud_provider_service_code": "aws-ec2",
            "region_code": "us-east-1",
            "subnet_id": self.subnet.id,
            "team_id": self.team.id,
            "user_id": self.caller.id,
            "owner_id": self.owner.id,
            "personal_access_token_id": self.pat.id,
            "variable_id": self.variable.id,
            "virtual_host_id": self.virtual_host.id,
        }


def _n() -> int:
    return next(_seq)


def _base(w: World | None = None, *, env: Environment, project: Project, user: User
          ) -> dict[str, Any]:
    return {"environment_id": env.id, "project_id": project.id, "created_by": user.id}


def _server(base: dict[str, Any], credential_id: int | None = None) -> Server:
    n = _n()
    return Server(**base, name=f"srv-{n}", hostname=f"srv-{n}", credential_id=credential_id,
                  cloud_service_code="self-hosted-custom", ip_address="127.0.0.1", ssh_port=1,
                  os_version_code="ubuntu_24_04", status="running",
                  provision_input={"cloud_service_code": "self-hosted-custom",
                                   "settings": {"os_version_code": "ubuntu_24_04"}})


def _application(base: dict[str, Any], credential_id: int) -> Application:
    return Application(**base, name=f"app-{_n()}", repository="octo/repo-1",
                       default_branch="main", programming_language="python",
                       engine_version="3.12", framework="django", root_directory="/",
                       deployments_keep=5, credential_id=credential_id)


def _daemon(base: dict[str, Any], application_id: int) -> Daemon:
    return Daemon(**base, name=f"worker-{_n()}", command="python worker.py",
                  run_as_user="www-data", working_directory="/srv", process_count=1,
                  application_id=application_id)


def _cron_job(base: dict[str, Any], application_id: int) -> CronJob:
    return CronJob(**base, name=f"cron-{_n()}", command="echo hello", pattern="0 0 * * *",
                   run_as_user="root", application_id=application_id)


def _service(base: dict[str, Any]) -> Service:
    return Service(**base, name=f"redis-{_n()}", type="redis", version="7")


def _network_rule(base: dict[str, Any]) -> NetworkRule:
    return NetworkRule(**base, name=f"rule {_n()}", direction="inbound", protocol="tcp",
                       port=443, cidr_block="0.0.0.0/0")


def _ssh_key(base: dict[str, Any]) -> SshKey:
    n = _n()
    return SshKey(**base, name=f"key-{n}", key_type="ssh-ed25519",
                  public_key=f"ssh-ed25519 AAAA{n}", fingerprint="00:" * 15 + "00",
                  fingerprint_sha256=f"SHA256:{n}")


def _virtual_host(base: dict[str, Any], application_id: int) -> VirtualHost:
    return VirtualHost(**base, type="name-based", name=f"site{_n()}.example.com",
                       root_directory="/var/www", application_id=application_id)


def _ssl_certificate(base: dict[str, Any], virtual_host_id: int) -> SslCertificate:
    return SslCertificate(**base, name=f"cert{_n()}.example.com", issuer="lets-encrypt",
                          type="single-domain", validation_level="DV",
                          virtual_host_id=virtual_host_id)


def _variable(base: dict[str, Any], resource_type: str, resource_id: int) -> Variable:
    return Variable(**base, resource_type=resource_type, resource_id=resource_id,
                    key=f"KEY_{_n()}", type="variable", target="os-env-var", value_plain="v",
                    hidden=False)


def _credential(settings: Settings, org: Organization, user: User, code: str,
                values: dict[str, str]) -> Credential:
    return Credential(name=f"credential {_n()}", provider_code=code,
                      provider_type=PROVIDERS[code].type.value, auth_type="api_credentials",
                      active=True, organization_id=org.id, created_by=user.id,
                      settings_encrypted=seal(SecretBox(settings), values))


def _hook(box: SecretBox, pipeline: Pipeline, kind: str, user: User) -> Hook:
    return Hook(id=str(uuid.uuid4()), type=kind, name=f"hook {_n()}", action_type="deploy",
                pipeline_id=pipeline.id, environment_id=pipeline.environment_id,
                project_id=pipeline.project_id, resource_type=pipeline.resource_type,
                resource_id=pipeline.resource_id, active=True, requires_secret=False,
                secret_encrypted=box.encrypt(uuid.uuid4().hex),
                target_url="http://127.0.0.1:9/hook" if kind == "out" else None,
                settings={}, trigger_when={}, created_by=user.id)


def _hook_request(hook: Hook) -> HookRequest:
    return HookRequest(id=str(uuid.uuid4()), hook_id=hook.id, ip_address="127.0.0.1",
                       url="http://testserver/hook", request_headers={}, request_body={},
                       response_status_code=200, response_headers={}, response_body={})


def _team_member(team: Team, user: User) -> TeamMember:
    return TeamMember(team_id=team.id, user_id=user.id)


def _api_token(kind: ApiTokenType, user: User, project: Project | None = None,
               role: Role | None = None) -> ApiToken:
    return ApiToken(type=kind, name=f"token {_n()}", token_hash=hash_token(new_token(
        PREFIXES[kind])), user_id=user.id, project_id=project.id if project else None,
        role_id=role.id if role else None, expires_at=datetime.now(UTC) + timedelta(days=30))


async def _action(db: AsyncSession, w: World, servers: list[Server], steps: int,
                  by: User | None = None) -> tuple[Action, list[ActionTarget]]:
    """A finished deploy of the application: a target per server, `steps` steps each, and
    a log on every step."""
    now = datetime.now(UTC)
    by = by or w.owner
    action = Action(type="deploy", status="completed", status_reason_code="COMPLETED",
                    resource_type="application", resource_id=w.application.id,
                    pipeline_id=w.pipeline.id, environment_id=w.environment.id,
                    project_id=w.project.id, organization_id=w.organization.id,
                    triggered_from={"trigger_type": "manual", "name": by.name or "",
                                    "email": by.email, "ip_address": "127.0.0.1",
                                    "user_id": by.id},
                    triggered_by=by.id, started_at=now, completed_at=now)
    db.add(action)
    await db.flush()
    return action, await _add_targets(db, action, servers, steps)


async def _add_targets(db: AsyncSession, action: Action, servers: list[Server], steps: int
                       ) -> list[ActionTarget]:
    now = datetime.now(UTC)
    targets = [ActionTarget(action_id=action.id, resource_type="server", resource_id=s.id,
                            server_id=s.id, status="completed", status_reason_code="COMPLETED",
                            resource_data=_server_data(s),
                            total_steps=steps, started_at=now, completed_at=now)
               for s in servers]
    db.add_all(targets)
    await db.flush()
    rows = [ActionStep(action_id=action.id, action_target_id=t.id, order=order,
                       name=f"step {order}", command="true", status="completed",
                       status_reason_code="COMPLETED", exit_code=0, log_chunks=1, log_bytes=3,
                       started_at=now, completed_at=now)
            for t in targets for order in range(1, steps + 1)]
    db.add_all(rows)
    await db.flush()
    db.add_all([ActionLogChunk(action_step_id=s.id, seq=seq, data=f"line {seq}\n",
                               final=seq == 2) for s in rows for seq in (1, 2)])
    return targets


def _server_data(server: Server) -> dict[str, Any]:
    return {"id": server.id, "hostname": server.hostname, "provider_name": "self-hosted",
            "provider_name_human_readable": "VPS/Self Hosted", "ip_address": server.ip_address,
            "ssh_port": server.ssh_port, "os_version_code": server.os_version_code,
            "provision_input": server.provision_input}


def _link_servers(resource_type: str, resource_id: int, servers: list[Server]
                  ) -> list[ResourceServer]:
    return [ResourceServer(resource_type=resource_type, resource_id=resource_id,
                           server_id=s.id) for s in servers]


async def seed(db: AsyncSession, settings: Settings) -> World:
    box = SecretBox(settings)
    owner = await create_user(db)
    caller, token = await user_with_token(db)
    org = await create_organization(db, owner)
    project = await create_project(db, owner, organization=org)
    member = await create_user(db)
    mine = await create_project(db, caller)
    everything = Role(name=f"all-{_n()}", description="everything", is_predefined=False,
                      permissions=sorted(ALL_PERMISSIONS), organization_id=org.id)
    key = environment_key()
    envs = [Environment(project_id=project.id, type="production", name=f"env-{_n()}",
                        created_by=owner.id, ssh_public_key=key.public_key,
                        ssh_private_key_encrypted=key.private_key_encrypted,
                        archived_at=archived)
            for archived in (None, datetime.now(UTC))]
    envs.append(Environment(project_id=mine.id, type="production", name=f"env-{_n()}",
                            created_by=caller.id, ssh_public_key=key.public_key,
                            ssh_private_key_encrypted=key.private_key_encrypted))
    role = Role(name=f"role-{_n()}", description="custom", is_predefined=False,
                permissions=["environment:read"], organization_id=org.id)
    team = Team(name=f"Team {_n()}", organization_id=org.id, created_by=owner.id)
    db.add_all([*envs, role, everything, team])
    await db.flush()
    env = envs[0]
    github = _credential(settings, org, owner, "github",
                         {"access_token": standins.GITHUB_TOKEN})
    credential = _credential(settings, org, owner, "aws",
                             {"access_key_id": "AKIAIOSFODNN7EXAMPLE",
                              "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    project_token = _api_token(ApiTokenType.PROJECT_API_TOKEN, owner, project, role)
    pat = _api_token(ApiTokenType.PERSONAL_ACCESS_TOKEN, caller)
    db.add_all([github, credential, project_token, pat,
                _team_member(team, caller), _team_member(team, member), _team_member(team, owner),
                TeamLink(team_id=team.id, role_id=everything.id, organization_id=org.id),
                TeamInvitation(team_id=team.id, type=TeamInvitationType.PRIVATE,
                               email=caller.email, status=TeamInvitationStatus.PENDING,
                               expires_at=datetime.now(UTC) + timedelta(days=7),
                               created_by=owner.id),
                SocialAccount(user_id=caller.id, provider="github", provider_user_id="1",
                              provider_user_nickname="octo",
                              token_encrypted=box.encrypt(standins.GITHUB_TOKEN))])
    await db.flush()
    db.add_all([CredentialEnvironment(credential_id=c.id, environment_id=env.id)
                for c in (github, credential)])
    base = _base(env=env, project=project, user=owner)
    network = Network(**base, credential_id=credential.id, name=f"net-{_n()}",
                      provider_name="aws", cloud_service_code="aws-ec2", region="us-east-1",
                      cidr_block="10.0.0.0/16")
    server = _server(base, credential.id)
    application = _application(base, github.id)
    db.add_all([network, server, application])
    await db.flush()
    subnet = Subnet(**base, network_id=network.id, credential_id=credential.id,
                    name=f"subnet-{_n()}", region="us-east-1", cidr_block="10.0.1.0/24")
    daemon = _daemon(base, application.id)
    cron_job = _cron_job(base, application.id)
    service = _service(base)
    network_rule = _network_rule(base)
    ssh_key = _ssh_key(base)
    virtual_host = _virtual_host(base, application.id)
    db.add_all([subnet, daemon, cron_job, service, network_rule, ssh_key, virtual_host])
    await db.flush()
    ssl_certificate = _ssl_certificate(base, virtual_host.id)
    variable = _variable(base, "application", application.id)
    db.add_all([ssl_certificate, variable, _variable(base, "service", service.id),
                ResourceLink(parent_type="network", parent_id=network.id, child_type="subnet",
                             child_id=subnet.id, can_be_unlinked=False, environment_id=env.id)])
    await db.flush()
    resources: dict[str, Any] = {
        "application": application, "daemon": daemon, "cronjob": cron_job,
        "service": service, "network-rule": network_rule, "ssh-key": ssh_key,
        "virtual-host": virtual_host,
    }
    for resource_type, resource in resources.items():
        db.add_all(_link_servers(resource_type, resource.id, [server]))
    pipelines = await ensure_default_pipelines(
        db, "application", application.id, project_id=project.id, environment_id=env.id,
        organization_id=org.id, created_by=owner.id,
    )
    await ensure_default_pipelines(
        db, "server", server.id, project_id=project.id, environment_id=env.id,
        organization_id=org.id, created_by=owner.id,
    )
    pipeline = next(p for p in pipelines if p.operation == "deploy")
    incoming = _hook(box, pipeline, "in", owner)
    outgoing = _hook(box, pipeline, "out", owner)
    db.add_all([incoming, outgoing])
    await db.flush()
    hook_request = _hook_request(incoming)
    db.add_all([hook_request, _hook_request(outgoing)])
    world = World(settings, owner, caller, token, org, project, env, envs[1], role, team, member,
                  project_token, pat, credential, github, network, subnet, server, application,
                  daemon, cron_job, service, network_rule, ssh_key, virtual_host,
                  ssl_certificate, variable, pipeline, incoming, outgoing, hook_request,
                  action=None, target=None, servers=[server])  # type: ignore[arg-type]
    world.action, (world.target,) = await _action(db, world, [server], steps=1)
    db.add_all(_events(world, 1))
    await db.commit()
    return world


def _events(w: World, n: int) -> list[ResourceEvent]:
    return [ResourceEvent(resource_type=t, resource_id=i, event_type="updated",
                          message="changed", triggered_by=w.owner.id,
                          environment_id=w.environment.id, changes={})
            for _ in range(n)
            for t, i in (("application", w.application.id), ("server", w.server.id))]


async def grow(db: AsyncSession, w: World, n: int) -> None:
    """Add `n` more rows of every kind the reads of `w` can reach."""
    box = SecretBox(w.settings)
    key = environment_key()
    users = [User(email=f"member{_n()}@example.com", name="Member", url_slug=f"member-{_n()}",
                  password_hash=w.owner.password_hash, active=True,
                  email_verified_at=datetime.now(UTC)) for _ in range(n)]
    db.add_all(users)
    await db.flush()
    # Grown rows name many creators: a read that loads each row's creator on its own
    # (hidden while every row shares one) shows here.
    creators = itertools.cycle(users)

    def b() -> dict[str, Any]:
        return _base(env=w.environment, project=w.project, user=next(creators))

    organizations = [Organization(name=f"Org {_n()}", url_slug=f"org-x{_n()}",
                                  owner_id=w.caller.id) for _ in range(n)]
    projects = [Project(name=f"Project {_n()}", user_id=w.owner.id,
                        organization_id=w.organization.id, created_by=next(creators).id)
                for _ in range(n)]
    # The caller's own projects, each with an environment (`/users/{user_id}/...`).
    personal = [Project(name=f"Mine {_n()}", user_id=w.caller.id, created_by=w.caller.id)
                for _ in range(n)]
    envs = [Environment(project_id=w.project.id, type="production", name=f"env-{_n()}",
                        created_by=next(creators).id, ssh_public_key=key.public_key,
                        ssh_private_key_encrypted=key.private_key_encrypted,
                        archived_at=archived)
            for _ in range(n) for archived in (None, datetime.now(UTC))]
    roles = [Role(name=f"role-{_n()}", description="custom", is_predefined=False,
                  permissions=["server:read"], organization_id=w.organization.id)
             for _ in range(n)]
    teams = [Team(name=f"Team {_n()}", organization_id=w.organization.id,
                  created_by=next(creators).id) for _ in range(n)]
    servers = [_server(b(), w.credential.id) for _ in range(n)]
    credentials = [_credential(w.settings, w.organization, next(creators), "aws",
                               {"access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                "secret_access_key": "x" * 40}) for _ in range(n)]
    db.add_all([*organizations, *projects, *personal])
    await db.flush()
    envs += [Environment(project_id=p.id, type="production", name=f"env-{_n()}",
                         created_by=w.caller.id, ssh_public_key=key.public_key,
                         ssh_private_key_encrypted=key.private_key_encrypted)
             for p in personal]
    db.add_all([*envs, *roles, *teams, *servers,
                *credentials])
    await db.flush()
    w.servers.extend(servers)
    applications = [_application(b(), w.github.id) for _ in range(n)]
    networks = [Network(**b(), credential_id=w.credential.id, name=f"net-{_n()}",
                        provider_name="aws", cloud_service_code="aws-ec2", region="us-east-1",
                        cidr_block="10.0.0.0/16") for _ in range(n)]
    db.add_all([*applications, *networks])
    await db.flush()
    subnets = [Subnet(**b(), network_id=w.network.id, credential_id=w.credential.id,
                      name=f"subnet-{_n()}", region="us-east-1", cidr_block="10.0.2.0/24")
               for _ in range(n)]
    vhosts = [_virtual_host(b(), w.application.id) for _ in range(n)]
    services = [_service(b()) for _ in range(n)]
    db.add_all([*subnets, *vhosts, *services,
                *[_daemon(b(), w.application.id) for _ in range(n)],
                *[_cron_job(b(), w.application.id) for _ in range(n)],
                *[_network_rule(b()) for _ in range(n)],
                *[_ssh_key(b()) for _ in range(n)]])
    await db.flush()
    db.add_all([_ssl_certificate(b(), v.id) for v in vhosts])
    db.add_all([_variable(b(), "application", w.application.id) for _ in range(n)])
    db.add_all([_variable(b(), "service", w.service.id) for _ in range(n)])
    db.add_all([CredentialEnvironment(credential_id=c.id, environment_id=w.environment.id)
                for c in credentials])
    db.add_all([ResourceLink(parent_type="network", parent_id=w.network.id,
                             child_type="subnet", child_id=s.id, can_be_unlinked=False,
                             environment_id=w.environment.id) for s in subnets])
    # Every resource of the world runs on every new server, and so do the new ones.
    resources: dict[str, Any] = {
        "application": w.application, "daemon": w.daemon, "cronjob": w.cron_job,
        "service": w.service, "network-rule": w.network_rule, "ssh-key": w.ssh_key,
        "virtual-host": w.virtual_host,
    }
    for resource_type, resource in resources.items():
        db.add_all(_link_servers(resource_type, resource.id, servers))
    for a in applications:
        db.add_all(_link_servers("application", a.id, w.servers))
    for s in services:
        db.add_all(_link_servers("service", s.id, w.servers))
    # Members, links and invitations of the world's team; the new teams link too.
    db.add_all([_team_member(w.team, u) for u in users])
    db.add_all([TeamLink(team_id=t.id, role_id=r.id, organization_id=w.organization.id)
                for t, r in zip(teams, roles, strict=True)])
    db.add_all([TeamLink(team_id=t.id, role_id=w.role.id, project_id=w.project.id)
                for t in teams])
    db.add_all([TeamLink(team_id=t.id, role_id=w.role.id, environment_id=w.environment.id)
                for t in teams])
    db.add_all([TeamLink(team_id=w.team.id, role_id=w.role.id, project_id=p.id)
                for p in projects])
    db.add_all([SocialAccount(user_id=w.caller.id, provider=provider, provider_user_id="1",
                              provider_user_nickname="octo",
                              token_encrypted=box.encrypt(standins.GITHUB_TOKEN))
                for provider in ("gitlab", "bitbucket")])
    db.add_all([TeamInvitation(team_id=t.id, type=TeamInvitationType.PRIVATE,
                               email=w.caller.email, status=TeamInvitationStatus.PENDING,
                               expires_at=datetime.now(UTC) + timedelta(days=7),
                               created_by=next(creators).id) for t in [w.team, *teams]])
    db.add_all([TeamInvitation(team_id=w.team.id, type=TeamInvitationType.PRIVATE,
                               email=f"guest{_n()}@example.com",
                               status=TeamInvitationStatus.PENDING,
                               expires_at=datetime.now(UTC) + timedelta(days=7),
                               created_by=next(creators).id) for _ in range(n)])
    db.add_all([_api_token(ApiTokenType.PROJECT_API_TOKEN, next(creators), w.project, w.role)
                for _ in range(n)])
    db.add_all([_api_token(ApiTokenType.PERSONAL_ACCESS_TOKEN, w.caller) for _ in range(n)])
    # Pipelines of new applications, hooks and their requests.
    for a in applications:
        await ensure_default_pipelines(
            db, "application", a.id, project_id=w.project.id, environment_id=w.environment.id,
            organization_id=w.organization.id, created_by=w.owner.id,
        )
    db.add_all([Pipeline(name=f"Custom {_n()}", resource_type="application",
                         resource_id=w.application.id, operation="deploy",
                         environment_id=w.environment.id, project_id=w.project.id,
                         organization_id=w.organization.id, created_by=next(creators).id)
                for _ in range(n)])
    hooks = [_hook(box, w.pipeline, kind, next(creators))
             for _ in range(n) for kind in ("in", "out")]
    db.add_all(hooks)
    await db.flush()
    db.add_all([_hook_request(h) for h in [w.incoming, w.outgoing] for _ in range(n)])
    # More targets and steps on the world's action, and more actions like it.
    await _add_targets(db, w.action, servers, steps=1)
    db.add_all([ActionStep(action_id=w.action.id, action_target_id=w.target.id, order=order,
                           name=f"step {order}", command="true", status="completed",
                           status_reason_code="COMPLETED", exit_code=0)
                for order in range(2, n + 2)])
    for _ in range(n):
        await _action(db, w, [w.server, *servers[:1]], steps=2, by=next(creators))
    db.add_all(_events(w, n))
    await db.commit()
