"""Services on a real server, as its unprivileged SSH user: what needs root fails at once
with a clear message and changes nothing; reading a state does not need root.

Installing, starting and stopping for real (apt, SysV init scripts, as root) runs on a
throwaway Debian machine (tests/remote/roothost.py), marked `roothost`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.servers.models import Server
from app.services.models import Service
from tests import resource_factories as rf
from tests.remote import roothost
from tests.remote.conftest import Remote


@pytest.mark.parametrize(
    ("operation", "message"),
    [("deploy", "installing redis 7 needs root"), ("stop", "stopping redis 7 needs root")],
)
async def test_operations_that_need_root_fail_clearly(
    operation: str, message: str, client: httpx.AsyncClient, db: AsyncSession,
    remote: Remote,
) -> None:
    service = await rf.create_service(db, remote.tenant, type="redis", version="7")
    await rf.link(db, "service", service.id, remote.server)
    if operation == "stop" and "install ok installed" not in remote.sh(
            "dpkg-query -W -f '${Status}' redis-server", check=False).stdout:
        pytest.skip("redis-server is not installed on this machine")
    action = await remote.operate(client, f"/services/{service.id}/{operation}",
                                  expect="failed")
    logs = await remote.logs(client, action)
    assert f"error: {message}: connect as root or give {remote.user} passwordless sudo" in logs
    assert "apt-get" not in logs  # nothing was tried


async def test_get_status_reads_the_state_without_root(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    if not remote.sh("dpkg-query -W -f '${Status}' nginx-light", check=False).stdout:
        pytest.skip("nginx is not installed on this machine")
    service = await rf.create_service(db, remote.tenant, type="nginx", version="latest")
    await rf.link(db, "service", service.id, remote.server)
    action = await remote.operate(client, f"/services/{service.id}/get-status")
    logs = await remote.logs(client, action)
    states = [line.split("=", 1)[1] for line in logs.splitlines()
              if line.startswith("##devopness-result state=")]
    assert states and states[0] in ("active", "inactive", "failed")
    assert "##devopness-result version=1." in logs


async def test_a_service_that_is_not_installed(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    service = await rf.create_service(db, remote.tenant, type="php", version="7.4")
    await rf.link(db, "service", service.id, remote.server)
    for operation in ("get-status", "start", "reload"):
        action = await remote.operate(client, f"/services/{service.id}/{operation}",
                                      expect="failed")
        assert ("php 7.4 is not installed on this server (no package php7.4-fpm): deploy "
                "the service first") in await remote.logs(client, action)


async def test_other_tenant_cannot_operate(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    service = await rf.create_service(db, remote.tenant)
    await rf.link(db, "service", service.id, remote.server)
    intruder = await rf.create_tenant(db)
    for operation in ("deploy", "get-status", "reload", "restart", "start", "stop"):
        response = await client.post(f"/services/{service.id}/{operation}", json={},
                                     headers=intruder.headers)
        assert response.status_code == 404, response.text


# --- root tier: a whole Debian machine -------------------------------------------------


@pytest.fixture(scope="module")
def root_host() -> Iterator[roothost.RootHost]:
    yield from roothost.machine_or_skip()


async def root_server(db: AsyncSession, host: roothost.RootHost, tenant: rf.Tenant) -> Server:
    host.authorize(tenant.environment.ssh_public_key)
    server = await rf.create_server(db, tenant, ssh_port=host.port, ssh_user="root",
                                    max_parallel_actions=0)
    # apt installs from the files in the image: no list refresh (the machine is offline).
    await rf.create_variable(db, tenant, "server", server.id, key="DEVOPNESS_APT_MAX_AGE",
                             value_plain="999999999")
    return server


def redis_pid(host: roothost.RootHost) -> int | None:
    out = host.sh("pgrep -x redis-server || true").stdout.split()
    assert len(out) <= 1, out
    return int(out[0]) if out else None


@pytest.mark.roothost
async def test_redis_installed_started_stopped_as_root(
    client: httpx.AsyncClient, db: AsyncSession, root_host: roothost.RootHost
) -> None:
    tenant = await rf.create_tenant(db)
    server = await root_server(db, root_host, tenant)
    remote = Remote(tenant, server, "root", root_host.root / "root", None)  # type: ignore[arg-type]
    service = await rf.create_service(db, tenant, type="redis", version="7")
    await rf.link(db, "service", service.id, server)
    base = f"/services/{service.id}"

    # A version the machine's apt sources do not have: refused before anything changes.
    other = await rf.create_service(db, tenant, name="redis-six", type="redis", version="6")
    await rf.link(db, "service", other.id, server)
    action = await remote.operate(client, f"/services/{other.id}/deploy", expect="failed")
    assert "redis 6 is not available here: this server's apt sources offer redis-server 5:7." \
        in await remote.logs(client, action)
    assert root_host.sh("dpkg-query -W redis-server", check=False).returncode != 0

    action = await remote.operate(client, f"{base}/deploy")
    logs = await remote.logs(client, action)
    assert "installing redis-server" in logs
    assert "##devopness-result state=active" in logs
    assert "(sysv)" in logs  # no systemd in there: the package's init script
    assert root_host.sh("redis-cli ping").stdout.strip() == "PONG"
    pid = redis_pid(root_host)
    assert pid is not None
    assert root_host.sh("ls /etc/rc2.d/").stdout.count("S01redis-server") == 1

    # Again: nothing to install, the same process.
    action = await remote.operate(client, f"{base}/deploy")
    assert "redis-server already installed" in await remote.logs(client, action)
    assert redis_pid(root_host) == pid

    await remote.operate(client, f"{base}/stop")
    assert redis_pid(root_host) is None
    action = await remote.operate(client, f"{base}/get-status")
    assert "##devopness-result state=inactive" in await remote.logs(client, action)
    await remote.operate(client, f"{base}/stop")  # stopping a stopped service is fine

    await remote.operate(client, f"{base}/start")
    started = redis_pid(root_host)
    assert started is not None
    await remote.operate(client, f"{base}/restart")
    restarted = redis_pid(root_host)
    assert restarted is not None and restarted != started
    action = await remote.operate(client, f"{base}/reload")
    assert "##devopness-result state=active" in await remote.logs(client, action)
    assert root_host.sh("redis-cli ping").stdout.strip() == "PONG"

    # Not at boot, and left stopped.
    stored = await db.get(Service, service.id)
    assert stored is not None
    stored.auto_start = False
    stored.initial_state = "stopped"
    await db.commit()
    action = await remote.operate(client, f"{base}/deploy")
    logs = await remote.logs(client, action)
    assert "start at boot: disabled" in logs and "##devopness-result state=inactive" in logs
    assert redis_pid(root_host) is None
    assert "S01redis-server" not in root_host.sh("ls /etc/rc2.d/").stdout
