"""The parameters an SSH key's scripts get: which keys they must never remove."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.ssh_keys.remote import ssh_key_context
from tests import resource_factories as rf


async def test_the_control_plane_keys_are_protected(db: AsyncSession) -> None:
    t = await rf.create_tenant(db)
    rotated, _ = rf.ssh_keypair()
    server = await rf.create_server(db, t, ssh_public_key=rotated)
    other = await rf.create_server(db, t)
    public, _ = rf.ssh_keypair()
    key = await rf.create_ssh_key(db, t, name="my key (laptop)", public_key=public)
    await rf.link(db, "ssh-key", key.id, server)
    await rf.link(db, "ssh-key", key.id, other)
    blob = public.split()[1]
    environment_blob = t.environment.ssh_public_key.split()[1]

    context = await ssh_key_context(
        db, builtins.RunRequest(1, "ssh-key", key.id, "deploy", server_id=other.id))
    assert context.env["DEVOPNESS_SSH_KEY_BLOB"] == blob
    assert context.env["DEVOPNESS_SSH_KEY_TYPE"] == "ssh-ed25519"
    assert context.env["DEVOPNESS_SSH_KEY_COMMENT"] == "my_key_laptop"
    assert context.env["DEVOPNESS_SSH_KEY_PROTECTED"].split("\n") == [environment_blob]

    # The snapshot taken at deletion serves every linked server: all their keys.
    snapshot = await builtins.snapshot_env(db, "ssh-key", key.id, "remove")
    assert sorted(snapshot["DEVOPNESS_SSH_KEY_PROTECTED"].split("\n")) == sorted(
        [environment_blob, rotated.split()[1]])
    assert snapshot["DEVOPNESS_SSH_KEY_ID"] == str(key.id)
