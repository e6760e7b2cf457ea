"""A throwaway host in a network namespace, for operations that need root on a whole
machine's network (firewall rules): its own interfaces and nftables ruleset, a veth pair to
reach it from this machine (host side .1, namespace side .2 of a random 10.x.y.0/30), and
OpenSSH sshd running inside it, logging root in with the given public key.

The namespace shares this machine's filesystem: scripts that keep state on disk must be
pointed at a per-test directory (server variables).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from tests.actions.ssh_servers import OpenSSHServer


class NetnsUnavailable(Exception):
    """This machine cannot make a namespace host (not root, no `ip netns`, no sshd)."""


@dataclass
class NetnsHost:
    name: str
    host_address: str  # this machine's end of the veth pair
    address: str  # the namespace host's address (sshd listens here)
    workdir: Path
    ssh_port: int = 22
    host_key: str = ""
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, *command: str, check: bool = True, input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (as root)."""
        result = subprocess.run(["ip", "netns", "exec", self.name, *command], input=input,
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{command!r} in {self.name} failed ({result.returncode}): "
                                 f"{result.stdout}{result.stderr}")
        return result

    def nft(self, *args: str, check: bool = True) -> str:
        """`nft -s ...` in the namespace (stateless listing: no counter values)."""
        return self.run("nft", "-s", *args, check=check).stdout

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        """A background process inside the namespace, stopped at cleanup."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *command],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._processes.append(proc)
        return proc

    def listen(self, port: int) -> None:
        """A TCP listener on the namespace's address (answers any connection)."""
        self.start("python3", "-c", (
            "import socket\n"
            f"s = socket.create_server(({self.address!r}, {port}))\n"
            "while True:\n"
            "    c, _ = s.accept(); c.close()\n"
        ))
        wait_for_port(self.address, port)

    def reachable(self, port: int, timeout: float = 1.0) -> bool:
        """Whether a TCP connection from this machine to the namespace host gets through."""
        try:
            with socket.create_connection((self.address, port), timeout=timeout):
                return True
        except OSError:
            return False


def wait_for_port(address: str, port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((address, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}:{port}")


def _free_subnet() -> ipaddress.IPv4Network:
    used = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True,
                          check=True).stdout
    for _ in range(50):
        second, third, fourth = (secrets.randbelow(50) + 200, secrets.randbelow(256),
                                 4 * secrets.randbelow(64))
        net = ipaddress.IPv4Network(f"10.{second}.{third}.{fourth}/30")
        if f" {net[1]}/" not in used and f" {net[2]}/" not in used:
            return net
    raise NetnsUnavailable("no free 10.x.y.0/30 subnet")


def check_available() -> None:
    if os.geteuid() != 0:
        raise NetnsUnavailable("a network-namespace host needs root")
    if OpenSSHServer.binary() is None:
        raise NetnsUnavailable("OpenSSH sshd is not installed (apt-get install openssh-server)")
    if shutil.which("ip") is None or shutil.which("nft") is None:
        raise NetnsUnavailable("iproute2 and nftables are needed (apt-get install iproute2 "
                               "nftables)")
    probe = f"dvpprobe{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        raise NetnsUnavailable(f"`ip netns add` is not permitted here: {made.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], check=False)


@contextlib.contextmanager
def netns_host(
    authorized_key: str, ssh_port: int = 2222, private_etc: tuple[str, ...] = ()
) -> Iterator[NetnsHost]:
    """A namespace host whose sshd (on `ssh_port`) lets root in with `authorized_key`.

    `private_etc` names directories of /etc the host gets its own copy of (`ip netns exec`
    bind-mounts /etc/netns/<name>/* over /etc), e.g. ("ufw",) so that enabling ufw there
    leaves this machine's configuration alone."""
    check_available()
    sshd = OpenSSHServer.binary()
    assert sshd is not None
    token = secrets.token_hex(3)
    name, host_if, ns_if = f"dvpfw{token}", f"dvh{token}", f"dvn{token}"
    net = _free_subnet()
    workdir = Path(tempfile.mkdtemp(prefix=f"dvp-{name}-"))
    workdir.chmod(0o755)
    host = NetnsHost(name, str(net[1]), str(net[2]), workdir, ssh_port)

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    try:
        ip("netns", "add", name)
        for directory in private_etc:
            (Path("/etc/netns") / name).mkdir(parents=True, exist_ok=True)
            shutil.copytree(Path("/etc") / directory, Path("/etc/netns") / name / directory,
                            symlinks=True)
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        ip("link", "set", ns_if, "netns", name)
        ip("addr", "add", f"{host.host_address}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", name, "addr", "add", f"{host.address}/30", "dev", ns_if)
        ip("-n", name, "link", "set", ns_if, "up")
        ip("-n", name, "link", "set", "lo", "up")

        key = asyncssh.generate_private_key("ssh-ed25519")
        (workdir / "host_ed25519").write_bytes(key.export_private_key())
        (workdir / "host_ed25519").chmod(0o600)
        host.host_key = key.export_public_key("openssh").decode().strip()
        (workdir / "authorized_keys").write_text(authorized_key.strip() + "\n")
        (workdir / "sshd_config").write_text("\n".join([
            f"Port {host.ssh_port}", f"ListenAddress {host.address}",
            f"HostKey {workdir / 'host_ed25519'}", f"PidFile {workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}", "StrictModes no",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "UsePAM no",
            "MaxStartups 100:30:200", "LogLevel ERROR",
        ]) + "\n")
        Path("/run/sshd").mkdir(exist_ok=True)
        host.start(sshd, "-D", "-e", "-f", str(workdir / "sshd_config"))
        wait_for_port(host.address, host.ssh_port)
        yield host
    finally:
        for proc in host._processes:
            proc.terminate()
        for proc in host._processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            if proc.poll() is None:
                proc.kill()
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
        for pid in pids.stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)
