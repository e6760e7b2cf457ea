"""A throwaway Debian machine for operations that need root on a whole machine (apt,
init scripts): a Debian bookworm root filesystem made with debootstrap, run in its own
PID, mount and network namespaces, reached as root over SSH on a loopback port.

- The root filesystem is built once (debootstrap from the Debian mirror, with
  openssh-server, plus the .deb files of the packages the tests install, downloaded but not
  installed) and cached as a tarball in $DEVOPNESS_ROOTFS_CACHE (default
  /var/cache/devopness-tests); later runs unpack it in seconds.
- Its network namespace has only a loopback interface: nothing inside reaches, or is
  reached from, any other address; its services (redis on 127.0.0.1:6379...) do not clash
  with this machine's. apt installs from the downloaded files.
- SSH: a listener on this machine's 127.0.0.1 hands each connection to `sshd -i` started
  inside the namespaces and the chroot (inetd style), so the engine connects as to any
  server. Killing the namespace's first process ends everything that ran inside.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("DEVOPNESS_ROOTFS_CACHE", "/var/cache/devopness-tests"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# Packages the tests install inside: downloaded into the image, installed by the tests.
# nginx, and what a connected machine needs (sudo, curl, the base packages of provisioning:
# tests/remote/test_journey.py).
DOWNLOADED = ("redis-server", "supervisor", "nginx", "ca-certificates", "curl", "git", "unzip",
              "rsync", "acl", "cron", "sudo")
# Bump when what the image holds changes.
IMAGE = CACHE / f"debian-{SUITE}-minbase-ssh-v4.tar.gz"

SSHD_CONFIG = """\
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
LogLevel ERROR
"""

# PID 1 of the namespace: reaps the orphans that daemons leave (as init does).
_REAPER = """
import os, time
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.2)
"""


class Unavailable(Exception):
    """This machine cannot run the root host (not root, tools missing, no mirror)."""


def _run(*args: str, timeout: float = 900) -> None:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise Unavailable(f"{' '.join(args[:3])}... failed: {result.stderr[-2000:]}")


def build_image() -> Path:
    """The cached root filesystem tarball, built on first use (about a minute)."""
    if IMAGE.exists():
        return IMAGE
    for old in CACHE.glob(f"debian-{SUITE}-minbase-ssh-v*.tar.gz"):
        old.unlink()  # an image of an older version
    if shutil.which("debootstrap") is None:
        raise Unavailable("debootstrap is not installed (apt-get install debootstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dvp-rootfs-build-", dir=CACHE))
    root = work / "root"
    try:
        _run("debootstrap", "--variant=minbase", "--include=openssh-server,procps",
             SUITE, str(root), MIRROR)
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        _run("chroot", str(root), "apt-get", "install", "-y", "-q", "--download-only",
             *DOWNLOADED)
        (root / "etc/resolv.conf").write_text("")
        (root / "etc/ssh/sshd_config.d/devopness.conf").write_text(SSHD_CONFIG)
        partial = IMAGE.with_suffix(".partial")
        _run("tar", "-C", str(root), "--numeric-owner", "-czf", str(partial), ".")
        partial.rename(IMAGE)
    except subprocess.TimeoutExpired as e:
        raise Unavailable(f"building the root filesystem timed out: {e}") from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return IMAGE


@dataclass
class RootHost:
    root: Path
    port: int
    init_pid: int

    def _enter(self) -> list[str]:
        return ["nsenter", "-t", str(self.init_pid), "-m", "-p", "-n", "--",
                "chroot", str(self.root)]

    def sh(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a shell command as root inside the machine."""
        result = subprocess.run([*self._enter(), "/bin/sh", "-c", command],
                                capture_output=True, text=True, timeout=120,
                                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
        if check and result.returncode != 0:
            raise AssertionError(
                f"{command!r} failed ({result.returncode}): {result.stdout}{result.stderr}")
        return result

    def authorize(self, public_key: str) -> None:
        ssh = self.root / "root/.ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        keys = ssh / "authorized_keys"
        with keys.open("a") as f:
            f.write(public_key.strip() + "\n")
        keys.chmod(0o600)


def _forwarder(host: RootHost) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            subprocess.run(
                [*host._enter(), "/usr/sbin/sshd", "-i"],
                stdin=sock.fileno(), stdout=sock.fileno(), stderr=subprocess.DEVNULL,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}, check=False,
            )

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def check_available() -> None:
    if os.geteuid() != 0:
        raise Unavailable("the root host needs root (namespaces, chroot)")
    for tool in ("unshare", "nsenter", "chroot", "tar", "ip"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is not installed")


def machine_or_skip() -> Iterator[RootHost]:
    """A started machine for a module's tests (a fixture yields from it), or a skip that
    says why this host cannot run one."""
    try:
        check_available()
        build_image()
    except Unavailable as e:
        pytest.skip(f"no throwaway Debian machine: {e}")
    with started() as host:
        yield host


@contextlib.contextmanager
def started() -> Iterator[RootHost]:
    """Unpack the image, start its namespaces and the SSH listener; tear all down after."""
    check_available()
    image = build_image()
    root = Path(tempfile.mkdtemp(prefix="dvp-roothost-"))
    holder: subprocess.Popen[str] | None = None
    host: RootHost | None = None
    forwarder: socketserver.ThreadingTCPServer | None = None
    try:
        _run("tar", "-C", str(root), "--numeric-owner", "-xzf", str(image))
        setup = (
            f"set -e; r={root}; mount -t proc proc $r/proc; mount --rbind /dev $r/dev; "
            "mount -t sysfs sysfs $r/sys || true; mount -t tmpfs tmpfs $r/run; "
            "mkdir -p $r/run/sshd $r/run/lock; ip link set lo up; echo ready; "
            f"exec python3 -c '{_REAPER}'"
        )
        holder = subprocess.Popen(
            ["unshare", "--pid", "--mount", "--net", "--fork", "--kill-child",
             "--propagation", "private",
             "/bin/sh", "-c", setup],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert holder.stdout is not None
        line = holder.stdout.readline().strip()
        if line != "ready":
            error = holder.stderr.read() if holder.stderr else ""
            raise Unavailable(f"the namespaces did not start: {error}")
        children = Path(f"/proc/{holder.pid}/task/{holder.pid}/children").read_text().split()
        host = RootHost(root, 0, int(children[0]))
        forwarder = _forwarder(host)
        host.port = forwarder.server_address[1]
        threading.Thread(target=forwarder.serve_forever, daemon=True).start()
        yield host
    finally:
        if forwarder is not None:
            forwarder.shutdown()
            forwarder.server_close()
        if host is not None:
            # The namespace's PID 1: when it ends, the kernel ends every process inside.
            with contextlib.suppress(ProcessLookupError):
                os.kill(host.init_pid, 9)
        if holder is not None:
            holder.kill()
            holder.wait(10)
            time.sleep(0.2)
        _remove(root)


def _remove(root: Path) -> None:
    """Delete the unpacked tree, unless something is still mounted inside (then leave it
    rather than follow a mount into this machine's own files)."""
    mounts = Path("/proc/self/mounts").read_text()
    if f" {root}/" in mounts:
        return
    shutil.rmtree(root, ignore_errors=True)
