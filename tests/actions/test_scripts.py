"""How a built-in script's program is put together (`workers/engine/scripts.py`): which
helper families it carries, and how `bash -s` takes it in."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from workers.engine import scripts

SCRIPT_NAMES = sorted(
    str(p.relative_to(scripts.SCRIPTS_DIR).with_suffix(""))
    for p in scripts.SCRIPTS_DIR.rglob("*.sh")
    if p.parent != scripts.SCRIPTS_DIR / "lib" and p.name != "lib.sh"
)
_FUNCTION = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(\)", re.M)


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_a_program_defines_every_helper_it_names(name: str) -> None:
    """Only the helper families a script needs are sent (parsing all of them costs bash
    milliseconds a step), and none it names is left out: every helper function the
    program mentions, directly or as `"dv_${kind}_remove"`, is defined in it."""
    every = {n for text, _ in scripts._families() for n in _FUNCTION.findall(text)}
    program = scripts.render(name, {})
    defined = set(_FUNCTION.findall(program))
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", program)) & every
    assert named <= defined
    for head, tail in re.findall(r"([A-Za-z_][A-Za-z0-9_]*_)\$\{?[^}\"\s_]*\}?([A-Za-z0-9_]*)",
                                 program):
        wanted = {n for n in every if n.startswith(head) and n.endswith(tail)}
        assert wanted <= defined, (head, tail)


def test_the_fetch_step_carries_only_the_release_helpers() -> None:
    program = scripts.render("application/fetch", {})
    assert "dv_release_claim()" in program
    assert "dv_daemon_install()" not in program and "dv_nginx_reload()" not in program


def _run(program: str, *, over_socket: bool = False) -> subprocess.CompletedProcess[str]:
    if not over_socket:
        return subprocess.run(["/bin/bash", "-s"], input=program, text=True,
                              capture_output=True, timeout=30, check=False)
    # A socket as stdin (what some SSH servers give a session): /dev/stdin cannot be
    # opened on one, the program is read through `cat`.
    ours, theirs = socket.socketpair()
    with ours, theirs:
        process = subprocess.Popen(["/bin/bash", "-s"], stdin=theirs.fileno(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ours.sendall(program.encode())
        ours.shutdown(socket.SHUT_WR)
        out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("over_socket", [False, True])
def test_bash_reads_the_program_whole_and_runs_it(over_socket: bool) -> None:
    program = scripts.render("server/get-status", {"DEVOPNESS_X": "a 'b' $c"}, "tok")
    program = program.replace("\n# devopness: end of program",
                              '\nprintf "%s|%s\\n" "$DEVOPNESS_X" "${DV_PROGRAM-gone}"; exit 3'
                              "\n# devopness: end of program")
    done = _run(program, over_socket=over_socket)
    assert done.returncode == 3, done.stderr
    assert done.stdout.endswith("a 'b' $c|gone\n")


def test_a_program_cut_short_does_not_run_at_all(tmp_path: Path) -> None:
    program = scripts.render("server/get-status", {}, "tok")
    body = program.index("set -euo pipefail")
    ran = tmp_path / "ran"
    cut = program[:body] + f"touch {ran}\n" + program[body:-200]
    done = _run(cut)
    assert done.returncode == 1
    assert "did not arrive whole" in done.stderr
    assert not ran.exists()
