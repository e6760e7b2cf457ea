"""What an SSH key does on its servers: a line in the SSH user's `authorized_keys`.

The reference's SshKey names no user: keys are authorised for the server's SSH user (the
account Devopness manages). Our line ends with the marker `devopness-ssh-key-<id>`, so
`remove` (on delete) takes out that line only. The key the control plane logs in with
(the environment's key, or the server's own after a key rotation) is passed as protected:
the scripts refuse to remove it, whatever the user asks. See `workers/scripts/ssh-key/`.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.core.settings import Settings
from app.environments.models import Environment
from app.resources_common import links
from app.resources_common.scripts import register_script_steps, resource_for
from app.servers.models import Server
from app.ssh_keys.models import SshKey

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=:,-]+")


def _blob(public_key: str | None) -> str | None:
    """The base64 part of an OpenSSH public key line (what identifies the key)."""
    parts = (public_key or "").split()
    return parts[1] if len(parts) >= 2 else None


async def _protected_keys(
    session: AsyncSession, key: SshKey, server_id: int
) -> list[str]:
    """Keys the control plane may be logging in with on the server(s) concerned: the
    environment's key and the server's own. At deletion (`server_id` 0: the snapshot
    for the removal) every linked server's key, since the snapshot serves them all."""
    keys = [await session.scalar(
        select(Environment.ssh_public_key).where(Environment.id == key.environment_id)
    )]
    if server_id:
        server_ids = [server_id]
    else:
        server_ids = await links.servers_for(session, "ssh-key", key.id)
    if server_ids:
        keys += list(await session.scalars(
            select(Server.ssh_public_key).where(Server.id.in_(server_ids))
        ))
    blobs = {b for b in map(_blob, keys) if b}
    return sorted(blobs)


async def ssh_key_context(
    session: AsyncSession, request: builtins.RunRequest
) -> builtins.ScriptContext:
    key = await resource_for(session, SshKey, request, "SSH key")
    parts = key.public_key.split()
    if len(parts) < 2:
        raise builtins.ContextUnavailable(f"SSH key {key.id} has no valid public key.")
    comment = _UNSAFE.sub("_", key.name).strip("_") or "key"
    return builtins.ScriptContext(env={
        "DEVOPNESS_SSH_KEY_ID": str(key.id),
        "DEVOPNESS_SSH_KEY_TYPE": parts[0],
        "DEVOPNESS_SSH_KEY_BLOB": parts[1],
        "DEVOPNESS_SSH_KEY_COMMENT": comment[:60],
        "DEVOPNESS_SSH_KEY_PROTECTED": "\n".join(
            await _protected_keys(session, key, request.server_id)
        ),
    })


def register(settings: Settings) -> None:
    builtins.register_context_builder("ssh-key", ssh_key_context)
    register_script_steps("ssh-key", {
        "deploy": ("Authorize the key in authorized_keys", "ssh-key/deploy", 60),
        "remove": ("Remove the key from authorized_keys", "ssh-key/remove", 60),
    })
