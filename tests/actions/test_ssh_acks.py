"""The engine's SSH connections acknowledge the server at once, and send what asyncssh
writes in one turn of the event loop together.

OpenSSH's sshd keeps Nagle's algorithm on for sessions without a terminal and holds its
answer to a connection's first channel until its post-authentication messages are
acknowledged; a client that delays that acknowledgement (Linux does, up to 40 ms) makes
every target's first step wait for it. No timing here: a real sshd in a network namespace
of the test's own, where the kernel's count of delayed ACKs is this connection's alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.actions.ssh_servers import OpenSSHServer
from tests.conftest import ROOT


def _probe(mode: str, loop: str) -> list[int]:
    result = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "tests.actions.ssh_ack_probe", mode, loop],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    counts: list[int] = json.loads(result.stdout.strip().splitlines()[-1])
    return counts


@pytest.fixture
def namespaces() -> None:
    missing = [name for name, ok in (
        ("root", os.geteuid() == 0), ("unshare", shutil.which("unshare") is not None),
        ("ip", shutil.which("ip") is not None), ("sshd", OpenSSHServer.binary() is not None),
    ) if not ok]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {', '.join(missing)} for this test")
        pytest.skip(f"a network namespace with its own sshd needs {', '.join(missing)}")


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_first_channel_waits_for_no_delayed_ack(namespaces: None, loop: str) -> None:
    # Plain asyncssh shows what is measured: the stall happens on every connection.
    assert all(count > 0 for count in _probe("plain", loop)), "no delayed ACK to avoid"
    # As the engine connects: at least one of three connections runs its first command
    # with no delayed ACK at all (a loaded machine may delay sshd's own reply once).
    assert min(_probe("prompt", loop)) == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_steps_packets_go_out_together(namespaces: None, loop: str) -> None:
    # A step as the engine runs it (connect, a program of several SSH packets on
    # `bash -s`, its end of input, its output, close): what asyncssh writes in one turn of
    # the event loop leaves in one send, so the namespace carries fewer TCP segments than
    # with plain asyncssh (measured 44 to 48 against 58 to 63; the engine's connections
    # sent 63 to 71 before, their prompt ACKs included).
    engine, plain = _probe("segments", loop), _probe("plain-segments", loop)
    # Over three connections each: one retransmission or merged ACK moves a count by one
    # or two, the coalescing by about ten per connection.
    assert sum(engine) < sum(plain), (engine, plain)
