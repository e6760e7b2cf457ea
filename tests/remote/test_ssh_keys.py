"""SSH keys for real: the SSH user's authorized_keys on the loopback server, and logins
with the keys it authorises."""

from __future__ import annotations

import asyncio
import stat

import asyncssh
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.ssh_keys.models import SshKey
from tests import resource_factories as rf
from tests.remote.conftest import Remote
from tests.remote.test_cron_jobs import finish_removal

# Lines of the user's own, one with options and one a comment: never touched by us.
OWN_LINES = (
    "# my laptop\n"
    'from="127.0.0.1",no-agent-forwarding ssh-ed25519 '
    "AAAAC3NzaC1lZDI1NTE5AAAAIDxTeXNpbG9uZ2tleWZvcnRlc3Rpbmdvbmx5MTIz me@laptop\n"
)


async def new_key(db: AsyncSession, remote: Remote, name: str) -> tuple[SshKey, str]:
    public, private = rf.ssh_keypair()
    key = await rf.create_ssh_key(db, remote.tenant, name=name, public_key=public,
                                  fingerprint_sha256=f"SHA256:{name}-{public[-12:]}")
    await rf.link(db, "ssh-key", key.id, remote.server)
    return key, private


async def can_login(remote: Remote, private_key: str) -> bool:
    try:
        async with asyncssh.connect(
            "127.0.0.1", port=remote.host.port, username=remote.user, known_hosts=None,
            client_keys=[asyncssh.import_private_key(private_key)], agent_path=None,
        ) as conn:
            result = await conn.run("true")
            return result.exit_status == 0
    except asyncssh.PermissionDenied:
        return False


def line_for(key: SshKey, name: str | None = None) -> str:
    return f"{key.public_key} {name or key.name} devopness-ssh-key-{key.id}\n"


async def test_deploy_rename_remove_keep_other_lines(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    with (remote.home / ".ssh/authorized_keys").open("a") as f:
        f.write(OWN_LINES)
    before = remote.read(".ssh/authorized_keys")
    first, first_private = await new_key(db, remote, "alice")
    second, second_private = await new_key(db, remote, "bob")
    assert not await can_login(remote, first_private)

    await remote.operate(client, f"/ssh-keys/{first.id}/deploy")
    assert remote.read(".ssh/authorized_keys") == before + line_for(first)
    assert await can_login(remote, first_private)
    action = await remote.operate(client, f"/ssh-keys/{first.id}/deploy")
    assert remote.read(".ssh/authorized_keys") == before + line_for(first)
    assert "unchanged" in await remote.logs(client, action)

    await remote.operate(client, f"/ssh-keys/{second.id}/deploy")
    # A rename rewrites our line where it is: the order of lines never changes.
    r = await client.put(f"/ssh-keys/{first.id}", json={"id": first.id, "name": "alice work"},
                         headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    await remote.operate(client, f"/ssh-keys/{first.id}/deploy")
    assert remote.read(".ssh/authorized_keys") == (
        before + line_for(first, "alice_work") + line_for(second)
    )
    mode = (remote.home / ".ssh/authorized_keys").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600

    r = await client.delete(f"/ssh-keys/{first.id}", headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    await finish_removal(db, "ssh-key", first.id)
    assert remote.read(".ssh/authorized_keys") == before + line_for(second)
    assert not await can_login(remote, first_private)
    assert await can_login(remote, second_private)
    # The control plane still gets in.
    await remote.operate(client, f"/servers/{remote.server.id}/get-status")

    r = await client.delete(f"/ssh-keys/{second.id}", headers=remote.tenant.headers)
    assert r.status_code == 204
    await finish_removal(db, "ssh-key", second.id)
    assert remote.read(".ssh/authorized_keys") == before
    await remote.operate(client, f"/servers/{remote.server.id}/get-status")


async def test_missing_ssh_directory_is_created_private(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    # Elsewhere than the file the control plane logs in with, so it can start missing.
    target = remote.home / "other/.ssh/authorized_keys"
    server_var = "DEVOPNESS_AUTHORIZED_KEYS_FILE"
    await rf.create_variable(db, remote.tenant, "server", remote.server.id, key=server_var,
                             value_plain=str(target))
    key, _ = await new_key(db, remote, "carol")
    await remote.operate(client, f"/ssh-keys/{key.id}/deploy")
    assert target.read_text() == line_for(key)
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.stat().st_uid == (remote.home / ".ssh").stat().st_uid
    await remote.operate(client, f"/ssh-keys/{key.id}/deploy")
    assert target.read_text() == line_for(key)


async def test_a_key_already_authorised_by_hand_is_left_alone(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    key, private = await new_key(db, remote, "dave")
    with (remote.home / ".ssh/authorized_keys").open("a") as f:
        f.write(f"{key.public_key} dave@home\n")
    before = remote.read(".ssh/authorized_keys")
    action = await remote.operate(client, f"/ssh-keys/{key.id}/deploy")
    assert "does not manage" in await remote.logs(client, action)
    assert remote.read(".ssh/authorized_keys") == before
    r = await client.delete(f"/ssh-keys/{key.id}", headers=remote.tenant.headers)
    assert r.status_code == 204
    await finish_removal(db, "ssh-key", key.id)
    # Not ours to remove: the user's own line stays.
    assert remote.read(".ssh/authorized_keys") == before
    assert await can_login(remote, private)


async def test_the_control_plane_key_is_never_removed(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    env_key = " ".join(remote.tenant.environment.ssh_public_key.split()[:2])
    key = await rf.create_ssh_key(db, remote.tenant, name="ops", public_key=env_key)
    await rf.link(db, "ssh-key", key.id, remote.server)
    # Only our marked line holds the control plane's key (the original went away).
    (remote.home / ".ssh/authorized_keys").write_text(f"{env_key} ops devopness-ssh-key-{key.id}\n")
    before = remote.read(".ssh/authorized_keys")
    await remote.operate(client, f"/ssh-keys/{key.id}/deploy")
    assert remote.read(".ssh/authorized_keys") == before

    r = await client.delete(f"/ssh-keys/{key.id}", headers=remote.tenant.headers)
    assert r.status_code == 204
    logs = await finish_removal(db, "ssh-key", key.id, expect="failed")
    assert "refusing to remove key" in logs and "lock Devopness out" in logs
    assert remote.read(".ssh/authorized_keys") == before
    await remote.operate(client, f"/servers/{remote.server.id}/get-status")


async def test_a_bad_key_fails_clearly_and_changes_nothing(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    before = remote.read(".ssh/authorized_keys")
    key = await rf.create_ssh_key(db, remote.tenant, public_key="ssh-ed25519 AAAA$(reboot)")
    await rf.link(db, "ssh-key", key.id, remote.server)
    action = await remote.operate(client, f"/ssh-keys/{key.id}/deploy", expect="failed")
    assert "invalid SSH public key" in await remote.logs(client, action)
    assert remote.read(".ssh/authorized_keys") == before


async def test_another_tenant_cannot_deploy(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    key, _ = await new_key(db, remote, "erin")
    other = await rf.create_tenant(db)
    r = await client.post(f"/ssh-keys/{key.id}/deploy", json={}, headers=other.headers)
    assert r.status_code == 404
    assert f"devopness-ssh-key-{key.id}" not in remote.read(".ssh/authorized_keys")


async def test_keys_deployed_at_once_are_all_authorised(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    keys = [await new_key(db, remote, f"k{n}") for n in range(4)]
    await asyncio.gather(*(remote.operate(client, f"/ssh-keys/{key.id}/deploy")
                           for key, _ in keys))
    for key, private in keys:
        assert line_for(key) in remote.read(".ssh/authorized_keys")
        assert await can_login(remote, private)
    await remote.operate(client, f"/servers/{remote.server.id}/get-status")
