"""Helpers more than one provider uses: the SSH key fingerprint DigitalOcean and Hetzner
index keys by, the cloud-init that creates a non-root login user, and a creation that is
undone when its caller is cancelled."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable

from app.cloud.base import CloudError, Instance


def key_fingerprint(public_key: str) -> str:
    """The MD5 fingerprint DigitalOcean and Hetzner index keys by (aa:bb:...)."""
    parts = public_key.split()
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (IndexError, ValueError) as exc:
        raise CloudError("The SSH public key is not an OpenSSH public key line.") from exc
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def user_data_for(ssh_user: str, public_key: str) -> str | None:
    """Cloud-init that creates a non-root login user; root needs none (the provider
    authorises the key for root)."""
    if ssh_user == "root":
        return None
    config = {"users": ["default", {
        "name": ssh_user, "groups": "sudo", "shell": "/bin/bash",
        "sudo": "ALL=(ALL) NOPASSWD:ALL", "ssh_authorized_keys": [public_key],
    }]}
    # JSON is YAML: no YAML dependency and no quoting surprises.
    return "#cloud-config\n" + json.dumps(config)


async def create_or_undo(
    create: Awaitable[Instance], destroy: Callable[[str], Awaitable[None]]
) -> Instance:
    """Run a creation to its end even when the caller is cancelled (a request already sent
    may have made an instance), then destroy what it made: nothing is left unrecorded."""
    task = asyncio.ensure_future(create)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            instance = await task
            await destroy(instance.id)
        raise
