"""The server's SSH keys on the machine: rotating the key a server is reached with, and
taking the keys only a deleted server used out of authorized_keys (Python steps run by
the engine over the server's SSH session)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.environments.models import Environment
from app.servers.models import Server

_AUTHORIZED = '"$HOME/.ssh/authorized_keys"'


async def rotate_key(step: builtins.StepRuntime) -> None:
    """New key in, proven to work, stored, and only then the old key out: at every moment
    one stored key can log in."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    public_line = f"{public} devopness-server-{step.request.server_id}"
    code, output = await step.run(
        'mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh" && touch ' + _AUTHORIZED
        + " && chmod 600 " + _AUTHORIZED + " && cat >> " + _AUTHORIZED,
        stdin=public_line + "\n",
    )
    if code != 0:
        raise builtins.StepError(f"Could not add the new key to authorized_keys: {output.strip()}")
    await step.log("Added the new key to authorized_keys.")
    problem = await step.try_login(private_pem)
    if problem is not None:
        await _remove_key_line(step, public)
        raise builtins.StepError(
            f"Logging in with the new key failed ({problem}); it was removed again and "
            "the current key stays in use."
        )
    await step.log("Logged in with the new key.")
    await step.record({"rotated_public_key": public_line, "rotated_private_key": private_pem})
    await step.log("The new key is stored; from now on actions use it.")
    old = step.context.env.get("DEVOPNESS_CURRENT_PUBLIC_KEY", "")
    old_key = " ".join(old.split()[:2])
    if old_key and old_key != public:
        await _remove_key_line(step, old_key)
        await step.log("Removed the previous key from authorized_keys.")


async def _remove_key_line(step: builtins.StepRuntime, key: str) -> None:
    """Drop the lines holding `key` (type and base64, whatever the comment); written
    aside and renamed, so authorized_keys is never left truncated."""
    code, output = await step.run(
        "f=" + _AUTHORIZED + '; k=$(cat); t=$(mktemp "$f.XXXXXX") && '
        'awk -v k="$k" \'{ split($0, a, " "); if (a[1] " " a[2] != k) print }\' "$f" > "$t" '
        '&& chmod 600 "$t" && mv -f "$t" "$f"',
        stdin=key,
    )
    if code != 0:
        raise builtins.StepError(f"Could not update authorized_keys: {output.strip()}")


def _key_of(line: str | None) -> str:
    """Type and base64 of an OpenSSH public key line, without its comment."""
    return " ".join((line or "").split()[:2])


async def keys_to_forget(
    session: AsyncSession, server: Server, environment_key: str
) -> list[str]:
    """The keys this product authorised for the server (its environment's key, which the
    connect command adds, and its own after a rotation) that no other server record still
    logs in with on the same machine and user."""
    mine = [k for k in dict.fromkeys((_key_of(server.ssh_public_key), _key_of(environment_key)))
            if k]
    rows = await session.execute(
        select(Server.ssh_public_key, Environment.ssh_public_key)
        .join(Environment, Environment.id == Server.environment_id)
        .where(
            Server.id != server.id,
            Server.ip_address == server.ip_address,
            Server.ssh_port == server.ssh_port,
            Server.ssh_user == server.ssh_user,
        )
    )
    in_use = {_key_of(own or shared) for own, shared in rows.all()}
    return [k for k in mine if k not in in_use]


async def forget_keys(step: builtins.StepRuntime) -> None:
    """Before the record goes: take the keys only it used out of authorized_keys."""
    keys = [k for k in step.context.private.get("forget_keys", "").splitlines() if k]
    if not keys:
        await step.log("Another server record still logs in with this key: it stays.")
        return
    for key in keys:
        await _remove_key_line(step, key)
    await step.log(f"Removed {len(keys)} key(s) this server was connected with from "
                   "authorized_keys.")
