"""Server operations on a real loopback server: connect, provision, status, key rotation."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.security import SecretBox, sign_server_activation
from app.core.settings import Settings
from app.servers.models import Server
from tests import resource_factories as rf
from tests.actions.conftest import live_url  # noqa: F401  (fixture)
from tests.remote import roothost
from tests.remote.conftest import Remote, SSHHost, create_os_user, delete_os_user


async def _server(db: AsyncSession, server_id: int) -> Server:
    server = await db.get(Server, server_id, populate_existing=True)
    assert server is not None
    return server


async def _can_login(port: int, user: str, private_key: str) -> bool:
    try:
        conn = await asyncssh.connect(
            "127.0.0.1", port, username=user,
            client_keys=[asyncssh.import_private_key(private_key)], known_hosts=None,
            agent_path=None, config=[], preferred_auth="publickey",
        )
    except (asyncssh.PermissionDenied, asyncssh.DisconnectError):
        return False
    conn.close()
    return True


async def test_connect_command_authorises_the_key_and_provisions(
    db: AsyncSession, sshd_host: SSHHost, live_url: str,  # noqa: F811
) -> None:
    tenant = await rf.create_tenant(db)
    # As users add a machine: address and port known, the key not yet on it.
    server = await rf.create_server(db, tenant, ssh_port=sshd_host.port, ssh_user="root",
                                    max_parallel_actions=0)
    public_key = tenant.environment.ssh_public_key.strip()
    user, home = create_os_user()
    try:
        async with httpx.AsyncClient(base_url=live_url, timeout=60) as client:
            r = await client.get(f"/servers/{server.id}/commands", headers=tenant.headers)
            assert r.status_code == 200, r.text
            command = r.json()["connect_command"]
            # The callback goes to PUBLIC_URL (the tests' is http://testserver); here the
            # API listens on a loopback port instead, as if behind a proxy.
            assert f"http://testserver/servers/{server.id}/connect/" in command
            command = command.replace("http://testserver", live_url)
            stored = await _server(db, server.id)
            assert stored.activation_nonce == 0  # handing out the command stores nothing

            # The user pastes it into a shell on the machine.
            result = await asyncio.to_thread(
                subprocess.run, ["runuser", "-u", user, "--", "/bin/bash", "-c", command],
                capture_output=True, text=True, timeout=60, cwd=home,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert "Server successfully connected" in result.stdout
            keys = (home / ".ssh" / "authorized_keys").read_text()
            assert public_key in keys

            stored = await _server(db, server.id)
            assert stored.ssh_user == user
            assert stored.activation_nonce == 1  # its token is spent
            action = await _latest_action(client, tenant, server.id)
            action = await _wait(client, tenant, action["id"])
            assert action["type"] == "provision"
            assert action["status"] == "completed", action
            steps = action["targets"][0]["steps"]
            assert [s["name"] for s in steps] == [
                "Verify the connection", "Install base packages and blueprint services",
                "Check reachability and load",
            ]
            stored = await _server(db, server.id)
            assert stored.host_key == sshd_host.host_key
            assert stored.status == "running"
            assert stored.status_details and stored.status_details["os_id"]
            assert stored.status_details["kernel"]

            # The same command again: its token was used.
            again = await asyncio.to_thread(
                subprocess.run, ["runuser", "-u", user, "--", "/bin/bash", "-c", command],
                capture_output=True, text=True, timeout=60, cwd=home,
            )
            assert again.returncode != 0
            # Running it twice left one copy of the key.
            keys = (home / ".ssh" / "authorized_keys").read_text().splitlines()
            assert keys.count(public_key) == 1
    finally:
        delete_os_user(user)


async def _latest_action(client: httpx.AsyncClient, tenant: rf.Tenant, server_id: int
                         ) -> dict[str, Any]:
    r = await client.get(f"/actions/server/{server_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    return dict(r.json()[0])


async def _wait(client: httpx.AsyncClient, tenant: rf.Tenant, action_id: int
                ) -> dict[str, Any]:
    r = await client.get(f"/actions/{action_id}", params={"wait": 120}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _token_of(body: dict[str, Any], server_id: int) -> str:
    return str(body["connect_command"]).split(f"/servers/{server_id}/connect/")[1].split('"')[0]


async def test_connect_rejects_wrong_expired_and_reused_tokens(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    tenant = await rf.create_tenant(db)
    server = await rf.create_server(db, tenant)
    r = await client.post(f"/servers/{server.id}/connect/nope")
    assert r.status_code == 401
    assert r.json()["message"] == "The activation token is invalid."

    # A token signed for this server, already expired.
    expired = sign_server_activation(settings, server.id, 0, int(utcnow().timestamp()) - 1)
    r = await client.post(f"/servers/{server.id}/connect/{expired}")
    assert r.status_code == 401
    assert "expired" in r.json()["message"]
    # A forged signature.
    valid = _token_of(
        (await client.get(f"/servers/{server.id}/commands", headers=tenant.headers)).json(),
        server.id,
    )
    forged = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    r = await client.post(f"/servers/{server.id}/connect/{forged}")
    assert r.status_code == 401
    stored = await _server(db, server.id)
    assert stored.status == "pending"  # nothing started
    assert stored.activation_nonce == 0

    # The valid one works once: a second call with it (or any earlier token) is refused.
    r = await client.post(f"/servers/{server.id}/connect/{valid}")
    assert r.status_code == 200, r.text
    assert r.text == "Server successfully connected"
    assert r.headers["X-Devopness-Action-Id"]
    r = await client.post(f"/servers/{server.id}/connect/{valid}")
    assert r.status_code == 401
    assert r.json()["message"] == "The activation token was already used."

    # Another server's token does not connect this one.
    other = await rf.create_server(db, tenant)
    r = await client.get(f"/servers/{other.id}/commands", headers=tenant.headers)
    other_token = _token_of(r.json(), other.id)
    r = await client.post(f"/servers/{server.id}/connect/{other_token}")
    assert r.status_code == 401

    r = await client.post(f"/servers/{other.id}/connect/{other_token}",
                          params={"ssh_user": "Bad User"})
    assert r.status_code == 422


async def test_commands_of_another_tenants_server_are_not_found(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant, intruder = await rf.create_tenant(db), await rf.create_tenant(db)
    server = await rf.create_server(db, tenant)
    r = await client.get(f"/servers/{server.id}/commands", headers=intruder.headers)
    assert r.status_code == 404
    stored = await _server(db, server.id)
    assert stored.activation_nonce == 0


async def test_get_status_and_start_report_load(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    action = await remote.operate(client, f"/servers/{remote.server.id}/get-status")
    assert "load average" in await remote.logs(client, action)
    server = await _server(db, remote.server.id)
    assert server.status_details and server.status_details["cpus"] >= 1
    assert server.status_details["memory_total_kb"] > 0
    assert server.status_checked_at is not None
    assert server.status == "running"
    assert server.host_key == remote.host.host_key  # pinned on first connection
    await remote.operate(client, f"/servers/{remote.server.id}/start")


async def test_deploy_reapplies_provisioning(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    action = await remote.operate(client, f"/servers/{remote.server.id}/deploy")
    logs = await remote.logs(client, action)
    assert "base packages present" in logs
    assert "server provisioned" in logs


async def test_power_operations_need_root_and_say_so(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    for operation in ("stop", "restart"):
        action = await remote.operate(
            client, f"/servers/{remote.server.id}/{operation}", expect="failed"
        )
        logs = await remote.logs(client, action)
        assert "needs root" in logs, logs
    server = await _server(db, remote.server.id)
    assert server.status != "stopped"


async def test_rotate_key_replaces_the_key_without_locking_out(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, settings: Settings
) -> None:
    old_public = remote.tenant.environment.ssh_public_key.strip()
    old_private = SecretBox(settings).decrypt(remote.tenant.environment.ssh_private_key_encrypted)
    await remote.operate(client, f"/servers/{remote.server.id}/rotate-key")
    server = await _server(db, remote.server.id)
    assert server.ssh_public_key and server.ssh_private_key_encrypted
    new_private = SecretBox(settings).decrypt(server.ssh_private_key_encrypted)
    keys = remote.read(".ssh/authorized_keys")
    assert old_public not in keys
    assert " ".join(server.ssh_public_key.split()[:2]) in keys
    assert await _can_login(remote.host.port, remote.user, new_private)
    assert not await _can_login(remote.host.port, remote.user, old_private)
    # Actions now use the new key; a second rotation works from it.
    first_rotation = server.ssh_public_key
    await remote.operate(client, f"/servers/{remote.server.id}/get-status")
    await remote.operate(client, f"/servers/{remote.server.id}/rotate-key")
    again = await _server(db, remote.server.id)
    assert again.ssh_public_key and again.ssh_public_key != first_rotation
    assert len(remote.read(".ssh/authorized_keys").splitlines()) == 1
    # The connect command now authorises the server's own key.
    r = await client.get(f"/servers/{remote.server.id}/commands",
                         headers=remote.tenant.headers)
    assert again.ssh_public_key.split()[1] in r.json()["connect_command"]


async def test_rotate_key_failure_keeps_the_current_key(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    # authorized_keys the SSH user cannot write: the new key cannot be added.
    keys = remote.home / ".ssh" / "authorized_keys"
    os.chown(keys, 0, 0)
    keys.chmod(0o644)
    before = keys.read_text()
    action = await remote.operate(client, f"/servers/{remote.server.id}/rotate-key",
                                  expect="failed")
    assert "Could not add the new key" in action["targets"][0]["status_reason_human_readable"]
    server = await _server(db, remote.server.id)
    assert server.ssh_public_key is None and server.ssh_private_key_encrypted is None
    assert keys.read_text() == before
    await remote.operate(client, f"/servers/{remote.server.id}/get-status")


@pytest.mark.parametrize("operation", ["rotate-key", "get-status", "deploy"])
async def test_another_tenant_cannot_run_server_operations(
    client: httpx.AsyncClient, db: AsyncSession, operation: str
) -> None:
    tenant, intruder = await rf.create_tenant(db), await rf.create_tenant(db)
    server = await rf.create_server(db, tenant)
    r = await client.post(f"/servers/{server.id}/{operation}", json={},
                          headers=intruder.headers)
    assert r.status_code == 404
    r = await client.get(f"/actions/server/{server.id}", headers=tenant.headers)
    assert r.json() == []


async def test_deleting_a_connected_server_forgets_its_key_when_no_other_record_uses_it(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    keys_file = remote.home / ".ssh" / "authorized_keys"
    env_key = " ".join(remote.tenant.environment.ssh_public_key.split()[:2])
    own_line = rf.ssh_keypair()[0] + " me@laptop"
    with keys_file.open("a") as f:
        f.write(own_line + "\n")
    # A second record of the same machine and user (another name for it) shares the key.
    twin = await rf.create_server(db, remote.tenant, ssh_port=remote.host.port,
                                  ssh_user=remote.user, max_parallel_actions=0)
    for server_id in (remote.server.id, twin.id):
        await remote.operate(client, f"/servers/{server_id}/get-status")  # connected

    r = await client.delete(f"/servers/{remote.server.id}", headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    action = await remote.wait(client, int(r.headers["X-Devopness-Action-Id"]))
    assert "still logs in with this key" in await remote.logs(client, action)
    r = await client.get(f"/servers/{remote.server.id}", headers=remote.tenant.headers)
    assert r.status_code == 404
    assert env_key in keys_file.read_text()  # the twin still logs in with it
    await remote.operate(client, f"/servers/{twin.id}/get-status")

    r = await client.delete(f"/servers/{twin.id}", headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    action = await remote.wait(client, int(r.headers["X-Devopness-Action-Id"]))
    assert "Removed 1 key(s)" in await remote.logs(client, action)
    assert (await client.get(f"/servers/{twin.id}", headers=remote.tenant.headers)
            ).status_code == 404
    left = keys_file.read_text().splitlines()
    assert [line for line in left if env_key in line] == []
    assert own_line in left  # what the product did not add stays


async def test_deleting_an_unreachable_server_still_removes_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tenant = await rf.create_tenant(db)
    server = await rf.create_server(db, tenant, host_key="ssh-ed25519 AAAAgone")
    r = await client.delete(f"/servers/{server.id}", headers=tenant.headers)
    assert r.status_code == 204, r.text
    r = await client.get(f"/actions/{r.headers['X-Devopness-Action-Id']}",
                         params={"wait": 60}, headers=tenant.headers)
    assert r.json()["status"] == "failed"
    assert (await client.get(f"/servers/{server.id}", headers=tenant.headers)
            ).status_code == 404


@pytest.mark.parametrize(
    ("service", "field"),
    [({"type": "apache", "version": "latest"}, "blueprint.0.type"),
     ({"type": "php", "version": "latest"}, "blueprint.0.version"),
     ({"type": "nginx", "version": "0.1; reboot"}, "blueprint.0.version")],
)
async def test_a_blueprint_service_that_cannot_be_installed_is_refused(
    client: httpx.AsyncClient, db: AsyncSession, service: dict[str, str], field: str
) -> None:
    tenant = await rf.create_tenant(db)
    r = await client.post(
        f"/environments/{tenant.environment.id}/servers",
        json={"hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": 2222,
              "provision_input": {"cloud_service_code": "self-hosted-custom",
                                  "settings": {"os_version_code": "ubuntu_24_04"}},
              "blueprint": [service]},
        headers=tenant.headers,
    )
    assert field in rf.field_errors(r)


@pytest.fixture(scope="module")
def root_host() -> Iterator[roothost.RootHost]:
    yield from roothost.machine_or_skip()


@pytest.mark.roothost
async def test_blueprint_services_are_installed_when_provisioning(
    client: httpx.AsyncClient, db: AsyncSession, root_host: roothost.RootHost
) -> None:
    tenant = await rf.create_tenant(db)
    r = await client.post(
        f"/environments/{tenant.environment.id}/servers",
        json={"hostname": "web-1", "ip_address": "127.0.0.1", "ssh_port": root_host.port,
              "ssh_user": "root", "max_parallel_actions": 0,
              "provision_input": {"cloud_service_code": "self-hosted-custom",
                                  "settings": {"os_version_code": "ubuntu_24_04"}},
              "blueprint": [{"type": "nginx", "version": "latest"}]},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    server_id = r.json()["id"]
    server = await _server(db, server_id)
    root_host.authorize(tenant.environment.ssh_public_key)
    # The machine is offline: apt installs from the files in its image, without refreshing
    # its lists.
    await rf.create_variable(db, tenant, "server", server_id, key="DEVOPNESS_APT_MAX_AGE",
                             value_plain="999999")
    remote = Remote(tenant, server, "root", root_host.root / "root", None)  # type: ignore[arg-type]

    action = await remote.operate(client, f"/servers/{server_id}/deploy")
    logs = await remote.logs(client, action)
    assert "blueprint service: nginx latest" in logs
    assert "installing nginx" in logs
    assert "##devopness-result state=active" in logs
    assert "nginx" in root_host.sh("pgrep -a nginx").stdout
    page = root_host.sh("""bash -c 'exec 3<>/dev/tcp/127.0.0.1/80; """
                        """printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3'""").stdout
    assert page.startswith("HTTP/1.1 200 OK") and "nginx" in page

    # Provisioning again installs nothing more.
    action = await remote.operate(client, f"/servers/{server_id}/deploy")
    assert "nginx already installed" in await remote.logs(client, action)


async def _hold_the_server(client: httpx.AsyncClient, remote: Remote) -> tuple[int, Path]:
    """Connect the server, allow it one action at a time and start one that holds it until
    the returned gate file exists: (that action's id, the gate)."""
    headers = remote.tenant.headers
    server_id = remote.server.id
    await remote.operate(client, f"/servers/{server_id}/get-status")  # connected: key pinned
    r = await client.put(f"/servers/{server_id}", json={"id": server_id, "max_parallel_actions": 1},
                         headers=headers)
    assert r.status_code in (200, 204), r.text
    r = await client.post(f"/pipelines/server/{server_id}",
                          json={"name": "hold", "operation": "configure"}, headers=headers)
    assert r.status_code == 201, r.text
    pipeline_id = r.json()["id"]
    gate = remote.home / "gate"
    r = await client.post(f"/pipelines/{pipeline_id}/steps", headers=headers, json={
        "name": "hold", "runner": "custom",
        "command": f"while [ ! -e {gate} ]; do sleep 0.1; done"})
    assert r.status_code == 201, r.text
    r = await client.post(f"/pipelines/{pipeline_id}/actions", json={}, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.headers["X-Devopness-Action-Id"]), gate


async def test_a_delete_cancelled_before_it_ran_keeps_the_server(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    """The server is busy (one action at a time), the user asks to delete it, then changes
    their mind and cancels the waiting delete: the server is still there, as it was."""
    headers = remote.tenant.headers
    server_id = remote.server.id
    holding, gate = await _hold_the_server(client, remote)
    before = (await client.get(f"/servers/{server_id}", headers=headers)).json()["status"]

    r = await client.delete(f"/servers/{server_id}", headers=headers)
    assert r.status_code == 204, r.text
    delete_id = int(r.headers["X-Devopness-Action-Id"])
    r = await client.post(f"/actions/{delete_id}/cancel", headers=headers)
    assert r.status_code == 200, r.text
    assert (await remote.wait(client, delete_id, expect="failed"))["targets"][0][
        "steps"][0]["status"] in ("failed", "skipped")

    r = await client.get(f"/servers/{server_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == before
    remote.sh(f"touch {gate}")
    assert (await remote.wait(client, holding))["status"] == "completed"
    assert (await client.get(f"/servers/{server_id}", headers=headers)).status_code == 200


async def test_a_reprovision_cancelled_before_it_ran_leaves_the_server_running(
    client: httpx.AsyncClient, remote: Remote
) -> None:
    """Re-applying provisioning (deploy) to a running server, cancelled while it waited
    its turn: nothing ran on the machine, so the server does not turn "failed"."""
    headers = remote.tenant.headers
    server_id = remote.server.id
    holding, gate = await _hold_the_server(client, remote)
    assert (await client.get(f"/servers/{server_id}", headers=headers)).json()[
        "status"] == "running"
    r = await client.post(f"/servers/{server_id}/deploy", headers=headers)
    assert r.status_code == 204, r.text
    deploy_id = int(r.headers["X-Devopness-Action-Id"])
    r = await client.post(f"/actions/{deploy_id}/cancel", headers=headers)
    assert r.status_code == 200, r.text
    await remote.wait(client, deploy_id, expect="failed")
    assert (await client.get(f"/servers/{server_id}", headers=headers)).json()[
        "status"] == "running"
    remote.sh(f"touch {gate}")
    assert (await remote.wait(client, holding))["status"] == "completed"
