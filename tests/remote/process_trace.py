"""Every process a running sshd starts, and what its descendants start, from `strace -f`
attached to it: which process forked which, and what each one ran.

A step's processes are the tree under its SSH session's shell, whose command line carries
the step's marker (`devopness-step-<id>-<token>`, workers/engine/remote_process.py); the
steps that share a session count under the first one's. Counted
are processes (forks), not threads: git's worker threads are no process started."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

_CALL = re.compile(r"^(\d+)\s+(clone3?|fork|vfork|execve)\((.*)$")
_RESUMED = re.compile(r"^(\d+)\s+<\.\.\. (clone3?|fork|vfork|execve) resumed>(.*)$")
_RESULT = re.compile(r"\)\s+=\s+(-?\d+)(?:\s|$)")
_STEP = re.compile(r"devopness-step-(\d+)-")


@dataclass
class Processes:
    """The forks seen: child -> parent, what each process last exec'd (its argv), and how
    many programs it exec'd (a shell that execs another counts two)."""

    parent: dict[int, int] = field(default_factory=dict)
    argv: dict[int, str] = field(default_factory=dict)
    execs: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def children(self) -> dict[int, list[int]]:
        tree: dict[int, list[int]] = defaultdict(list)
        for child, parent in self.parent.items():
            tree[parent].append(child)
        return tree

    @staticmethod
    def subtree(tree: dict[int, list[int]], root: int) -> list[int]:
        seen, todo = [], [root]
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo += tree.get(pid, [])
        return seen

    def shells(self) -> dict[int, int]:
        """Step id -> the pid of its session's shell."""
        shells: dict[int, int] = {}
        for pid, argv in self.argv.items():
            found = _STEP.search(argv)
            if found is None or (self.parent.get(pid) in self.argv
                                 and _STEP.search(self.argv[self.parent[pid]])):
                continue  # not a step's shell, or a process inside one
            shells[int(found.group(1))] = pid
        return shells

    def per_step(self) -> dict[int, list[str]]:
        """Step id -> what each process of its tree ran (a fork that ran nothing else
        shows as its parent's program), the session's shell first."""
        tree = self.children()
        return {step: [self._program(p) for p in sorted(self.subtree(tree, pid))]
                for step, pid in self.shells().items()}

    def _program(self, pid: int) -> str:
        while pid not in self.argv and pid in self.parent:
            pid = self.parent[pid]
        argv = self.argv.get(pid, "?")
        return argv.split('"', 2)[1].rsplit("/", 1)[-1] if '"' in argv else argv

    def count(self) -> int:
        return len(self.parent)


def parse(text: str) -> Processes:
    seen = Processes()
    pending: dict[int, tuple[str, str]] = {}

    def done(pid: int, call: str, args: str, result: str) -> None:
        found = _RESULT.search(result)
        if found is None or int(found.group(1)) < 0:
            return
        if call == "execve":
            seen.argv[pid] = args
            seen.execs[pid] += 1
        elif "CLONE_THREAD" not in args:
            seen.parent[int(found.group(1))] = pid

    for line in text.splitlines():
        if (call := _CALL.match(line)) is not None:
            pid, name, rest = int(call.group(1)), call.group(2), call.group(3)
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (name, rest)
            else:
                done(pid, name, rest, rest)
        elif (resumed := _RESUMED.match(line)) is not None:
            pid = int(resumed.group(1))
            name, args = pending.pop(pid, (resumed.group(2), ""))
            done(pid, name, args, resumed.group(3))
    return seen


# A write of result lines (`dv_result`, workers/scripts/lib.sh) by a script's shell.
_RESULT_WRITE = re.compile(r'^\d+\s+write\(\d+, "##devopness-result ', re.M)


class Trace:
    """`with Trace(pid) as trace:` ... `trace.processes`: what `pid` and its descendants
    forked and ran inside the block; `trace.result_writes`: how many writes of them carried
    a script's result lines (each is an SSH packet the control plane reads)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.processes = Processes()
        self.result_writes = 0
        self._dir = Path(tempfile.mkdtemp(prefix="dvp-strace-"))
        self._out = self._dir / "trace"
        self._strace: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Trace:
        self._strace = subprocess.Popen(
            ["strace", "-f", "-qq", "-s", "256", "-e", "trace=execve,clone,clone3,fork,vfork,write",
             "-e", "signal=none", "-o", str(self._out), "-p", str(self.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        # Attached once the kernel names strace as the tracer: nothing before is missed.
        deadline = time.monotonic() + 10
        while self._tracer() != self._strace.pid:
            if self._strace.poll() is not None or time.monotonic() > deadline:
                self._strace.kill()
                raise RuntimeError("strace did not attach: "
                                   + (self._strace.stderr.read().decode()
                                      if self._strace.stderr else ""))
            time.sleep(0.01)
        return self

    def _tracer(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
        return 0

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        assert self._strace is not None
        self._strace.send_signal(signal.SIGINT)  # detaches, and writes what it holds
        self._strace.wait(30)
        text = self._out.read_text()
        self.processes = parse(text)
        self.result_writes = len(_RESULT_WRITE.findall(text))
        shutil.rmtree(self._dir, ignore_errors=True)
