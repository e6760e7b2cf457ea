"""Run inside a network namespace of its own (`unshare --net`): a real sshd on its
loopback, and SSH connections made as the engine makes them (`prompt`) or as plain asyncssh
makes them (`plain`). Prints, per connection, how many delayed ACKs the namespace's TCP
stack sent while the connection's first command ran (TcpExt DelayedACKs: nothing else
talks in this namespace).

    python -m tests.actions.ssh_ack_probe prompt|plain asyncio|uvloop
"""

from __future__ import annotations

import asyncio
import getpass
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncssh

from tests.actions.ssh_servers import OpenSSHServer
from workers.engine.ssh_session import _PromptAcks

CONNECTIONS = 3


def delayed_acks() -> int:
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:], strict=True))
                       ["DelayedACKs"])
    raise RuntimeError("no TcpExt counters in /proc/net/netstat")


async def probe(prompt: bool) -> list[int]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = OpenSSHServer(key).start()
    extra: dict[str, Any] = {"tunnel": _PromptAcks()} if prompt else {}
    counts = []
    try:
        for _ in range(CONNECTIONS):
            conn = await asyncssh.connect(
                "127.0.0.1", server.port, username=getpass.getuser(), client_keys=[key],
                known_hosts=None, agent_path=None, config=[], **extra,
            )
            before = delayed_acks()
            await conn.run("true", check=True)
            counts.append(delayed_acks() - before)
            conn.close()
            await conn.wait_closed()
    finally:
        server.stop()
    return counts


def main() -> None:
    mode, loop = sys.argv[1], sys.argv[2]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    coroutine = probe(mode == "prompt")
    if loop == "uvloop":
        import uvloop

        counts = uvloop.run(coroutine)
    else:
        counts = asyncio.run(coroutine)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
