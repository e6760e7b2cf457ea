"""The product's how-to guides, followed as a user follows them, against one real server.

One server process (uvicorn, its own SQLite file, the provider stand-ins and moto on
loopback) serves the whole guide suite; each test builds what its guide lists as
prerequisites through the `guide` fixture's factories, with unique names, so tests
share the server without seeing each other's data.

At the end the suite prints how many guides of the product documentation it followed.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from devopness import DevopnessClient
from devopness.services.team_service import TeamInvitationService

from app.core.migrations import upgrade
from app.core.settings import Settings
from app.users.bootstrap import create_user_with_token
from tests import standins
from tests.conftest import Mailbox, free_port
from tests.guides.app_fixtures import site  # noqa: F401  (fixtures)
from tests.guides.infra_fixtures import connected, machine, sshd_host  # noqa: F401  (fixtures)
from tests.live import api_process
from tests.reference import reference_dir

HERE = Path(__file__).resolve().parent

# Sections of the product documentation this suite follows so far; the others are
# pending and their guides are printed as not yet followed.
SECTIONS = (
    "organizations", "projects", "environments", "teams", "roles", "users", "api-tokens",
    "ssh-keys", "credentials", "variables", "actions", "pipelines", "webhooks", "link",
    # Infrastructure (tests/guides/infra_fixtures.py).
    "servers", "services", "networks", "subnets", "network-rules", "files",
    # Applications and what runs with them (tests/guides/app_fixtures.py).
    "applications", "daemons", "cronjobs", "virtual-hosts", "ssl-certificates",
)

# Guides no API client can follow, with the reason (mirrored in README.md).
_BILLING = "billing of the hosted service"
_LEGAL = "legal pages"
_MCP_SETUP = "MCP client set-up"
SKIPPED: dict[str, str] = {
    "users/subscriptions/upgrade-subscription": _BILLING,
    "users/subscriptions/cancel-subscription": _BILLING,
    "legal/privacy-policy": _LEGAL,
    "legal/terms-of-service": _LEGAL,
    "security/reporting-a-security-vulnerability": _LEGAL,
    **{f"mcp/{client}": _MCP_SETUP for client in (
        "antigravity", "claude-code", "codex-cli", "gemini-cli", "jetbrains", "opencode",
        "trae", "warp", "windsurf", "zed",
    )},
}

# Concept pages and site furniture: not how-to guides.
_NOT_GUIDES = {"index", "README", "authoring-guidelines"}


# Defects other branches own, found by following the guides (expected to fail here).




# ------------------------------------------------------------------ the server


@dataclass
class GuideServer:
    url: str
    token: str  # the owner's personal access token, printed by `create-user`
    settings: Settings


def _stand_in_env(standin_url: str, moto_url: str) -> dict[str, str]:
    base = standin_url
    return {
        "GITHUB_API_URL": f"{base}/github",
        "GITHUB_WEB_URL": f"{base}/github-web",
        "GITLAB_URL": f"{base}/gitlab",
        "BITBUCKET_API_URL": f"{base}/bitbucket/2.0",
        "BITBUCKET_WEB_URL": f"{base}/bitbucket-web",
        "DIGITALOCEAN_API_URL": f"{base}/digitalocean/v2",
        "HETZNER_API_URL": f"{base}/hetzner/v1",
        "AZURE_LOGIN_URL": f"{base}/azure-login",
        "AZURE_MANAGEMENT_URL": f"{base}/azure",
        "GCP_COMPUTE_URL": f"{base}/gcp/compute/v1",
        "AWS_ENDPOINT_URL": moto_url,
        "PROVIDER_TIMEOUT_SECONDS": "5",
        # A stand-in's instance answers no SSH: the provision action gives up at once.
        "CLOUD_SSH_TIMEOUT_SECONDS": "1",
    }


@pytest.fixture(scope="session")
def guide_server(
    tmp_path_factory: pytest.TempPathFactory,
    smtp: tuple[Mailbox, int],
    standin_url: str,
    moto_url: str,
) -> Iterator[GuideServer]:
    _, smtp_port = smtp
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('guides') / 'guides.db'}"
    settings = Settings(
        environment="test", database_url=database_url, redis_url=None,
        secret_key="guides-secret-key-not-for-production", public_url=url,
        _env_file=None,  # type: ignore[call-arg]
    )
    upgrade(settings)
    # The self-hosted bootstrap the reference README describes for current clients.
    _, token = asyncio.run(create_user_with_token(
        settings, email="owner@guides.example", password="guides-password-1",
        name="Guide Owner", token_expires_at=datetime.now(UTC) + timedelta(days=30),
    ))
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "false",
        # The servers the guides connect are on loopback (tests/guides/app_fixtures.py).
        "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true",
        **_stand_in_env(standin_url, moto_url),
    }
    env.pop("REDIS_URL", None)
    # Generous: the machine running the suite may be busy importing for other processes.
    with api_process(env, port, start_seconds=120):
        yield GuideServer(url=url, token=token, settings=settings)


def sdk(server: GuideServer, token: str) -> DevopnessClient:
    return DevopnessClient(
        {"base_url": server.url, "api_token": token, "strict_validation_mode": True}
    )


# ------------------------------------------------------------------ prerequisites

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Guide:
    """A signed-in user following guides, with factories for their prerequisites."""

    server: GuideServer
    token: str
    c: DevopnessClient = field(init=False)
    invitations: TeamInvitationService = field(init=False)
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.c = sdk(self.server, self.token)
        self.invitations = self.c.teams.invitations
        self.http = httpx.Client(
            base_url=self.server.url,
            headers={"Accept": "application/json", "Authorization": f"Bearer {self.token}"},
        )

    def organization(self) -> Any:
        return self.c.organizations.add_organization({"name": unique("org")}).data

    def project(self, organization_id: int | None = None) -> Any:
        org = organization_id if organization_id is not None else self.organization().id
        return self.c.projects.add_organization_project(org, {"name": unique("project")}).data

    def environment(self, project_id: int | None = None, type_: str = "development") -> Any:
        project = project_id if project_id is not None else self.project().id
        return self.c.environments.add_project_environment(
            project, {"name": unique("env"), "type": type_}
        ).data

    def role(self, organization_id: int, permissions: list[str] | None = None) -> Any:
        return self.c.roles.add_organization_role(organization_id, {
            "name": unique("role"), "permissions": permissions or ["environment:read"],
        }).data

    def team(self, organization_id: int) -> Any:
        return self.c.teams.add_organization_team(organization_id, {"name": unique("team")}).data

    def user(self) -> tuple[str, str]:
        """Another person with an account here: their e-mail and a personal access token."""
        email = f"{unique('person')}@guides.example"
        _, token = asyncio.run(create_user_with_token(
            self.server.settings, email=email, password="person-password-1",
            name="Another Person", token_expires_at=datetime.now(UTC) + timedelta(days=2),
        ))
        return email, token

    def github_credential(self, organization_id: int, environment_id: int) -> Any:
        """A source-provider credential the GitHub stand-in accepts, in the environment."""
        credential = self.c.credentials.add_organization_credential(organization_id, {
            "name": unique("github"), "provider_code": "github",
            "provider_type": "source_provider", "active": True,
            "settings": {"credential": {"auth_type": "api_credentials",
                                        "access_token": standins.GITHUB_TOKEN}},
        }).data
        self.c.credentials.link_credential_to_environment(credential.id, environment_id)
        return credential

    def credential(self, where: Workspace, provider_code: str, provider_type: str,
                   values: dict[str, str], name: str | None = None) -> Any:
        """ADD CREDENTIAL from an environment: made in its organization, linked to it."""
        credential = self.c.credentials.add_organization_credential(where.org.id, {
            "name": name or unique(provider_code), "provider_code": provider_code,
            "provider_type": provider_type, "active": True,
            "settings": {"credential": values},
        }).data
        self.c.credentials.link_credential_to_environment(credential.id, where.env.id)
        return credential

    def workspace(self) -> Workspace:
        org = self.organization()
        project = self.project(org.id)
        return Workspace(org, project, self.environment(project.id))

    def loopback_server(self, environment_id: int) -> Any:
        """A self-hosted server on loopback where nothing listens: actions on it run and
        fail at connect, so a guide can be followed up to what happens on the machine."""
        return self.c.servers.add_environment_server(environment_id, {
            "hostname": unique("web"), "ip_address": "127.0.0.1", "ssh_port": free_port(),
            "provision_input": {"cloud_service_code": "self-hosted-custom",
                                "settings": {"os_version_code": "ubuntu_24_04"}},
        }).data

    def as_other(self, token: str) -> Guide:
        return Guide(self.server, token)

    def member(self, team_id: int) -> Guide:
        """Another person, invited to the team and having accepted."""
        email, token = self.user()
        invitation = self.invitations.add_team_invitation(
            team_id, {"type": "private", "email": email}
        ).data
        other = self.as_other(token)
        other.invitations.accept_team_invitation(invitation.id)
        return other

    def application(self, where: Workspace, credential: Any = None,
                    server_id: int | None = None,
                    stack: tuple[str, str, str] = ("python", "django", "3.12")) -> Any:
        """An application; `stack` is (language, framework, engine version). A deploy on a
        loopback machine wants ("html", "none", "none"): any other stack installs its runtime
        from the internet, which tests do not reach."""
        credential = credential or self.github_credential(where.org.id, where.env.id)
        on_server = [{"resource_type": "server", "resource_id": server_id}] if server_id else []
        language, framework, engine = stack
        return self.c.applications.add_environment_application(where.env.id, {
            "linked_resources": on_server,
            "name": unique("app"), "repository": "octo/repo-1", "credential_id": credential.id,
            "programming_language": language, "framework": framework, "engine_version": engine,
            "default_branch": "main",
        }).data


@dataclass
class Workspace:
    org: Any
    project: Any
    env: Any


@pytest.fixture
def guide(guide_server: GuideServer) -> Iterator[Guide]:
    g = Guide(guide_server, guide_server.token)
    yield g
    g.http.close()


# ------------------------------------------------------------------ the coverage line


def guide_files() -> dict[str, Path]:
    ref = reference_dir()
    if ref is None:
        return {}
    docs = ref / "product-docs"
    found = {}
    for path in sorted(docs.rglob("*")):
        if path.suffix not in (".md", ".mdx") or path.stem in _NOT_GUIDES:
            continue
        found[str(path.relative_to(docs).with_suffix(""))] = path
    return found


def test_file_for(guide_id: str) -> Path:
    *folders, name = guide_id.split("/")
    return HERE.joinpath(*(f.replace("-", "_") for f in folders),
                         f"test_{name.replace('-', '_')}.py")


_outcomes: dict[str, set[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = Path(report.fspath).resolve() if report.fspath else None
    if path is None or HERE not in path.parents:
        return
    outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
    if report.when == "call" or outcome in ("failed", "xfailed") or (
        report.when == "setup" and report.skipped
    ):
        _outcomes.setdefault(str(path), set()).add(outcome)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _outcomes:
        return
    followed: list[str] = []
    failing: list[str] = []
    pending: list[str] = []
    not_run: list[str] = []
    skipped = {g: r for g, r in SKIPPED.items()}
    for guide_id in guide_files():
        if guide_id in skipped:
            continue
        outcomes = _outcomes.get(str(test_file_for(guide_id)))
        if outcomes is None:
            if test_file_for(guide_id).exists():
                not_run.append(guide_id)
            elif guide_id.split("/")[0] in SECTIONS:
                failing.append(f"{guide_id} (no test)")
            else:
                pending.append(guide_id)
        elif outcomes & {"failed", "xfailed"}:
            known = " (known defect)" if "failed" not in outcomes else ""
            failing.append(f"{guide_id}{known}")
        elif outcomes == {"passed"}:
            followed.append(guide_id)
        else:
            failing.append(f"{guide_id} (not run: {', '.join(sorted(outcomes))})")
    reasons: dict[str, int] = {}
    for reason in skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    why = ", ".join(f"{n} {r}" for r, n in reasons.items())
    tr = terminalreporter
    tr.write_sep("-", "product guides")
    tr.write_line(
        f"guides: {len(followed)} followed, {len(skipped)} skipped ({why}), "
        f"{len(failing)} failing, {len(pending)} not yet followed"
        + (f", {len(not_run)} not run in this session" if not_run else "")
    )
    for name in failing:
        tr.write_line(f"  failing: {name}")
    by_section: dict[str, list[str]] = {}
    for name in pending:
        section, _, rest = name.partition("/")
        by_section.setdefault(section, []).append(rest)
    for section, names in sorted(by_section.items()):
        tr.write_line(f"  not yet followed: {section}: {', '.join(names)}")


def slug_of(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
