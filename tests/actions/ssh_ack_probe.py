"""Run inside a network namespace of its own (`unshare --net`): a real sshd on its
loopback, and SSH connections made as the engine makes them (`prompt`, `segments`) or as
plain asyncssh makes them (`plain`, `plain-segments`). Prints, per connection, how many
delayed ACKs the namespace's TCP stack sent while the connection's first command ran
(TcpExt DelayedACKs), or how many TCP segments a whole step sent (Tcp OutSegs: connect,
a program of several SSH packets on `bash -s`, its output, close). Nothing else talks in
this namespace.

    python -m tests.actions.ssh_ack_probe prompt|plain|segments|plain-segments asyncio|uvloop
"""

from __future__ import annotations

import asyncio
import getpass
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncssh

from tests.actions.ssh_servers import OpenSSHServer
from workers.engine.ssh_session import _Tunnel

CONNECTIONS = 3


def _counter(path: str, prefix: str, name: str) -> int:
    lines = Path(path).read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith(prefix):
            return int(dict(zip(names.split()[1:], values.split()[1:], strict=True))[name])
    raise RuntimeError(f"no {prefix} counters in {path}")


def delayed_acks() -> int:
    return _counter("/proc/net/netstat", "TcpExt:", "DelayedACKs")


def out_segments() -> int:
    return _counter("/proc/net/snmp", "Tcp:", "OutSegs")


# A step's program as the engine sends it: larger than one SSH packet (32 KB of data).
PROGRAM = "".join(f": {'x' * 70} {i}\n" for i in range(1200)) + "echo done\n"


Connect = Callable[[], Awaitable[asyncssh.SSHClientConnection]]


async def _each_connection(engine: bool, run: Callable[[Connect], Awaitable[int]]) -> list[int]:
    """`run` on each of CONNECTIONS connections to a fresh sshd, made as the engine makes
    them or as plain asyncssh does; what each returned."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = OpenSSHServer(key).start()
    extra: dict[str, Any] = {"tunnel": _Tunnel()} if engine else {}

    async def connect() -> asyncssh.SSHClientConnection:
        return await asyncssh.connect(
            "127.0.0.1", server.port, username=getpass.getuser(), client_keys=[key],
            known_hosts=None, agent_path=None, config=[], **extra,
        )

    counts = []
    try:
        for _ in range(CONNECTIONS):
            counts.append(await run(connect))
    finally:
        server.stop()
    return counts


async def _step_segments(connect: Connect) -> int:
    before = out_segments()
    conn = await connect()
    process = await conn.create_process("bash -s", stderr=asyncssh.STDOUT)
    process.stdin.write(PROGRAM)
    process.stdin.write_eof()
    output = await process.stdout.read()
    await process.wait()
    assert output == "done\n", output
    conn.close()
    await conn.wait_closed()
    return out_segments() - before


async def _first_command_delayed_acks(connect: Connect) -> int:
    conn = await connect()
    before = delayed_acks()
    await conn.run("true", check=True)
    count = delayed_acks() - before
    conn.close()
    await conn.wait_closed()
    return count


def main() -> None:
    mode, loop = sys.argv[1], sys.argv[2]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if mode.endswith("segments"):
        coroutine = _each_connection(mode == "segments", _step_segments)
    else:
        coroutine = _each_connection(mode == "prompt", _first_command_delayed_acks)
    if loop == "uvloop":
        import uvloop

        counts = uvloop.run(coroutine)
    else:
        counts = asyncio.run(coroutine)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
