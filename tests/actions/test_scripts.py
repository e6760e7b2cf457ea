"""How a built-in script's program is put together (`workers/engine/scripts.py`): which
helper families it carries, and how `bash -s` takes it in."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from workers.engine import intake, remote_process, scripts

SCRIPT_NAMES = sorted(
    str(p.relative_to(scripts.SCRIPTS_DIR).with_suffix(""))
    for p in scripts.SCRIPTS_DIR.rglob("*.sh")
    if p.parent != scripts.SCRIPTS_DIR / "lib" and p.name != "lib.sh"
)
_FUNCTION = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(\)", re.M)


# The families a script sends unparsed travel packed (gzip, then base64), in one line.
# Packed families come first in a script's program, right before what it runs first (a
# packed text whose length needs no `=` padding ends where the next line's letters begin).
_PACKED = re.compile(r"[A-Za-z0-9+/]{64,}={0,2}(?=" + re.escape(intake.RESTORE) + ")")

# How a program is started: by `bash -s` (as another user, through sudo), or by the SSH
# user's login shell with the session's command (remote_process.session_command), run as
# sshd runs it (`-c`, in an environment of its own).
SHELLS = ["bash -s", "login bash", "login sh"]


def _unpacked(program: str) -> str:
    """`program` with its packed families as bash unpacks them when one is called."""
    return _PACKED.sub(lambda m: gzip.decompress(base64.b64decode(m[0])).decode(), program)


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_a_program_defines_every_helper_it_names(name: str) -> None:
    """Only the helper families a script needs are sent (parsing all of them costs bash
    milliseconds a step), and none it names is left out: every helper function the
    program mentions, directly or as `"dv_${kind}_remove"`, is defined in it (those of the
    families it packs once they are unpacked)."""
    every = {n for text, _ in scripts._families() for n in _FUNCTION.findall(text)}
    program = _unpacked(scripts.render(name, {}))
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


def _commands(text: str) -> str:
    """The commands bash parses `text` to, as `declare -f` prints them (no comments)."""
    done = subprocess.run(["/bin/bash", "-c", 'eval "$(cat)"; declare -f dv__commands'],
                          input=f"dv__commands() {{\n{text}\n}}\n", text=True,
                          capture_output=True, timeout=30, check=False)
    assert done.returncode == 0 and done.stderr == "", done
    return done.stdout


@pytest.mark.parametrize("path", sorted(scripts.SCRIPTS_DIR.rglob("*.sh")),
                         ids=lambda p: str(p.relative_to(scripts.SCRIPTS_DIR)))
def test_a_script_is_sent_without_its_comments_and_parses_to_the_same_commands(
        path: Path) -> None:
    """Comment and blank lines are a third of the scripts' bytes, and bash reads, copies
    and parses each of them on every server at every step: they are not sent. What is
    sent parses to the very commands the script is, here-documents and multi-line strings
    included."""
    text = path.read_text()
    sent = scripts._bare(text)
    assert _commands(sent) == _commands(text)
    before_heredocs = sent.split("<<", 1)[0].splitlines()
    assert [line for line in before_heredocs if not line.strip() or line.lstrip()[0] == "#"] \
        == []
    if re.search(r"^[ \t]*#", text, re.M):
        assert len(sent) < len(text)


def test_comparing_commands_sees_a_line_taken_from_a_multi_line_string() -> None:
    """The comparison above fails where dropping a line changes what a script does, and
    here-documents keep their lines."""
    assert _commands("printf '%s' 'one\n# two'") != _commands("printf '%s' 'one'")
    assert _commands("echo 'one\n\ntwo'") != _commands("echo 'one\ntwo'")
    heredoc = "cat <<-'EOF'\n# kept\n\n\tEOF\n# dropped\necho done\n"
    assert scripts._bare(heredoc) == "cat <<-'EOF'\n# kept\n\n\tEOF\necho done\n"


def _with_body(program: str, name: str, body: str) -> str:
    start = program.index(scripts._bare(scripts._read(name)))
    return program[:start] + body + "\n# devopness: end of program\n"


# A function of the daemon family as bash shows it: its stub until the family is parsed.
_SHOW = "declare -f dv_daemon_unit_name | tr -d '\\n'; echo\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_family_the_deploy_does_not_use_is_parsed_only_when_called(
    monkeypatch: pytest.MonkeyPatch, shell: str,
) -> None:
    """Activation without daemons, cron jobs or virtual hosts does not parse their helpers
    (7 ms of CPU a server), nor stubs for the functions nothing names; were one it names
    called all the same, it works, in a subshell too, wherever the packed families travel
    (on stdin with the program, in the session's command)."""
    activate = scripts.render("application/activate", {"DEVOPNESS_APP_RELOAD_NGINX": "0"})
    assert "dv_daemon_install() { dv__load" in activate
    # So are the reload helpers that call them, and the system helpers they call.
    assert "dv_reload_users() { dv__load" in activate and "dv_root() { dv__load" in activate
    # Packed: none of the family's lines is sent as text, and bash reads a third of them.
    unpacked = _unpacked(activate)
    assert "dv_daemon_install() {\n" in unpacked and "dv_daemon_install() {\n" not in activate
    assert len(activate) < len(unpacked) - 20_000
    assert "dv_daemon_unit_name() { dv__load" not in activate
    assert activate.count("{ dv__load ") < 15
    directives = "".join(line + "\n" for line in scripts._read("application/activate")
                         .splitlines() if line.startswith("# devopness: helpers"))
    probe = directives + (_SHOW + 'echo "sub $(dv_daemon_unit_name 7)"\n' + _SHOW
                          + "dv_daemon_unit_name 8; echo\n" + _SHOW + "dv_nginx_dir; echo\n")
    read = scripts._read
    monkeypatch.setattr(scripts, "_read",
                        lambda name: probe if name == "test/lazy-probe" else read(name))
    done = _run(scripts.program("test/lazy-probe", {"DEVOPNESS_APP_RELOAD_NGINX": "0"}),
                shell=shell)
    assert done.returncode == 0, done.stderr
    stub, sub, still_stub, called, parsed, nginx = done.stdout.splitlines()
    assert "dv__load" in stub and "dv__load" in still_stub
    assert sub == "sub devopness-daemon-7"
    assert called == "devopness-daemon-8"
    assert "dv__load" not in parsed and "printf" in parsed
    assert nginx == "/etc/nginx"


@pytest.mark.parametrize(("env", "function"), [
    ({"DEVOPNESS_APP_DAEMONS": "3 bmFtZQ== ..."}, "dv_daemon_unit_name"),
    ({"DEVOPNESS_APP_RELOAD_NGINX": "1"}, "dv_nginx_dir"),
])
def test_a_family_the_deploy_uses_is_parsed_at_once(env: dict[str, str], function: str
                                                    ) -> None:
    program = scripts.render("application/activate", env)
    done = _run(_with_body(program, "application/activate", _SHOW.replace(
        "dv_daemon_unit_name", function)))
    assert done.returncode == 0, done.stderr
    assert "dv__load" not in done.stdout and "printf" in done.stdout


def _run(program: str | intake.Program, *, over_socket: bool = False, shell: str = "bash -s",
         cut: int = 0) -> subprocess.CompletedProcess[str]:
    """Run `program` (text: for `bash -s` only), its last `cut` bytes never sent."""
    command, env = ["/bin/bash", "-s"], None
    if isinstance(program, str):
        assert shell == "bash -s"
        stdin = program
    elif shell == "bash -s":
        stdin = program.text()
    else:
        text, stdin = remote_process.session_command(["devopness-step-1-test"], program)
        command = ["/bin/bash" if shell == "login bash" else "/bin/sh", "-c", text]
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    stdin = stdin[:len(stdin) - cut]
    if not over_socket:
        return subprocess.run(command, input=stdin, text=True, env=env,
                              capture_output=True, timeout=30, check=False)
    # A socket as stdin (what some SSH servers give a session): /dev/stdin cannot be
    # opened on one, the program is read through `cat`.
    ours, theirs = socket.socketpair()
    with ours, theirs:
        process = subprocess.Popen(command, stdin=theirs.fileno(), env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ours.sendall(stdin.encode())
        ours.shutdown(socket.SHUT_WR)
        out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("over_socket", [False, True])
def test_bash_reads_the_program_whole_and_runs_it(over_socket: bool, shell: str) -> None:
    program = scripts.program("server/get-status", {"DEVOPNESS_X": "a 'b' $c"}, "tok")
    program = dataclasses.replace(program, code=program.code.replace(
        "\n# devopness: end of program",
        '\nprintf "%s|%s|%s\\n" "$DEVOPNESS_X" "${DV_PROGRAM-gone}" "${dv__intake-gone}"; '
        'exit 3\n# devopness: end of program'))
    done = _run(program, over_socket=over_socket, shell=shell)
    assert done.returncode == 3, done.stderr
    assert done.stdout.endswith("a 'b' $c|gone|gone\n")


def test_a_scripts_results_reach_the_control_plane_in_one_write(
    strace: None, tmp_path: Path
) -> None:
    """Each write of a session's output is an SSH packet for sshd to send and the engine to
    read, decrypt and scan, on every server: a script's results go in one write, not a
    write a line (bash's output is line-buffered)."""
    program = scripts.render("server/get-status", {}, "tok")
    trace = tmp_path / "writes"
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=write", "-s", "65536", "-o",
                           str(trace), "/bin/bash", "-s"], input=program, text=True,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    keys = scripts.result_keys("server/get-status") & set(re.findall(r" (\w+)=", done.stdout))
    assert len(keys) >= 9, done.stdout
    writes = [line for line in trace.read_text().splitlines()
              if "write(1, " in line and "##devopness-result" in line]
    assert len(writes) == 1, writes
    assert all(f" {key}=" in writes[0] for key in keys), writes[0]


def test_the_result_keys_of_a_script_are_every_key_its_calls_name() -> None:
    """The engine takes only the result keys a script names (`dv_result KEY VALUE...`):
    each pair of each call, over continuation lines, an empty value included, two calls on
    a line; not what follows the end of a command, nor a key named by an expansion."""
    text = ('dv_result a "$x" b "" \\\n  c "$(date -u -d "$e" +%s)"\n'
            "[ -n \"$y\" ] && dv_result d 1; dv_result e 2 || dv_result f \"$z\"\n"
            'dv_result g; echo h i\ndv_result "$k" v j w\n# dv_result KEY VALUE\n')
    assert scripts._result_keys_of(text) == {"a", "b", "c", "d", "e", "f"}


@pytest.mark.parametrize("shell", SHELLS)
def test_a_program_cut_short_does_not_run_at_all(tmp_path: Path, shell: str) -> None:
    program = scripts.program("server/get-status", {}, "tok")
    body = program.code.index("set -euo pipefail")
    ran = tmp_path / "ran"
    code = program.code[:body] + f"touch {ran}\n" + program.code[body:]
    done = _run(dataclasses.replace(program, code=code), shell=shell, cut=200)
    assert done.returncode == 1
    assert "did not arrive whole" in done.stderr
    assert not ran.exists()


@pytest.mark.parametrize(("record", "switched_to"), [
    ("A\nB\n", "releases/A"),  # written by this deploy's activate step: trusted
    ("A\n", "releases/A"),     # by an older version of the scripts: trusted as before
    ("A\nC\n", None),          # for another release: not this deploy's, no switch
    ("A\nB\n9\n", "releases/A"),  # with the action that wrote it (for its retries)
    ("B\nB\n9\n", "releases/B"),  # B before B: nothing to switch to, current kept
])
def test_a_failing_health_check_switches_back_only_to_the_release_recorded_for_it(
    tmp_path: Path, record: str, switched_to: str | None
) -> None:
    """The activate step writes the release live before the switch only when the health
    check has work. A record left by another deploy (the step reran with other parameters
    after a worker died) must not send `current` to a release that was never live before
    this one."""
    app = tmp_path / "shop"
    (app / ".devopness").mkdir(parents=True)
    for name in ("A", "B"):
        (app / "releases" / name).mkdir(parents=True)
    (app / "current").symlink_to("releases/B")
    (app / ".devopness" / "previous").write_text(record)
    program = scripts.render("application/health-check", {
        "DEVOPNESS_APPLICATIONS_DIR": str(tmp_path), "DEVOPNESS_APPLICATION_DIR_NAME": "shop",
        "DEVOPNESS_ACTION_ID": "9", "DEVOPNESS_HEALTH_CHECK_COMMAND": "false",
        "DEVOPNESS_HEALTH_CHECK_RETRIES": "1",
    }, "tok")
    done = _run(program)
    assert done.returncode == 1, done.stderr
    if switched_to is None:
        assert "the release live before it is not known" in done.stdout, done.stdout
        assert "names release C" in done.stdout
        assert (app / "current").readlink() == Path("releases/B")
    elif record.startswith("B"):
        assert "cannot be switched back to, so current was left at release B" in done.stdout
        assert (app / "current").readlink() == Path(switched_to)
    else:
        assert "current switched back to release A" in done.stdout, done.stdout
        assert (app / "current").readlink() == Path(switched_to)


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
@pytest.mark.parametrize("value", ["plain", "café ☕"])
@pytest.mark.parametrize("name", ["server/get-status", "application/activate"])
def test_a_program_runs_whole_and_never_cut_short_whatever_its_text_and_locale(
    locale: str, value: str, name: str
) -> None:
    """The first line takes the program as whole when it is as long as sent, or else when
    it ends with its last line. The length counts bytes whatever the server's locale (in a
    UTF-8 one, bash would count characters): a program cut short by as many bytes as its
    text has characters more than bytes is refused, and one as long as sent is taken."""
    environment = {"PATH": "/usr/bin:/bin", "LC_ALL": locale, "HOME": "/nonexistent"}

    def run(text: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["/bin/bash", "-s"], input=text, capture_output=True,
                              env=environment, timeout=30, check=False)

    def refused(done: subprocess.CompletedProcess[bytes]) -> bool:
        return done.returncode == 1 and done.stdout == b"" and done.stderr == (
            b"error: the script did not arrive whole\n")

    program = scripts.render(name, {"DEVOPNESS_X": value, "DEVOPNESS_APPLICATION_DIR_NAME": "a"},
                             "tok").encode()
    body = program.split(b"\n", 1)[1].decode()
    assert body.isascii() == value.isascii()
    done = run(program)
    assert not refused(done) and (done.stdout or done.stderr), done
    extra = len(body.encode()) - len(body)  # characters and bytes differ by this much
    for cut in {200, 2, extra} - {0}:
        assert refused(run(program[:-cut])), cut
    # As long as sent but not ending as sent: taken by its length.
    altered = program[:-2] + b"X\n"
    assert not refused(run(altered))


def _chain(*scripts_env: tuple[str, dict[str, str]]) -> str:
    program = scripts.render_chain(
        [(name, env, f"tok{i}", f"devopness-step-{i}-x") for i, (name, env) in
         enumerate(scripts_env)], "ENDTOKEN")
    assert program is not None
    return program


def test_scripts_in_one_session_run_in_turn_each_ended_by_its_status_line(
    tmp_path: Path,
) -> None:
    """A chain runs its scripts in turn, as each runs alone: every one but the last ends
    with a line that carries the chain's token and its exit status, the last one's status
    is the session's; errors come in the same stream, in order."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["/bin/bash", "-s"], input=_chain(
        ("server/get-status", {}), ("server/get-status", {})), text=True, capture_output=True,
        env=env, timeout=30, check=False)
    assert done.returncode == 0 and done.stderr == "", done
    first, _, second = done.stdout.partition("\n##devopness-step-end ENDTOKEN 0\n")
    assert "##devopness-result tok0 cpus=" in first and "tok1" not in first
    assert "##devopness-result tok1 cpus=" in second and "tok0" not in second
    assert "step-end" not in second

    # A script that fails ends the chain with its status: the next never runs. Its error,
    # written to stderr, comes before its end line.
    done = subprocess.run(["/bin/bash", "-s"], input=_chain(
        ("application/fetch", {"DEVOPNESS_APPLICATION_DIR_NAME": "a", "DEVOPNESS_ACTION_ID": "7",
                               "DEVOPNESS_DEPLOY_TYPE": "deploy", "DEVOPNESS_GIT_URL": ""}),
        ("server/get-status", {})), text=True, capture_output=True, env=env, timeout=30,
        check=False)
    assert done.returncode == 1 and done.stderr == "", done
    failed, _, rest = done.stdout.partition("\n##devopness-step-end ENDTOKEN 1\n")
    assert "the application has no repository URL" in failed, done.stdout
    assert rest == "", done.stdout


# Prints its parameter, its length as the script's shell counts it, the locale and a
# helper of a family sent unparsed (loaded on first use: cut from the program by offset).
_PROBE = ("# devopness: helpers daemon only when DEVOPNESS_APP_DAEMONS\n"
          "printf '[%s|%s|%s|%s]\\n' \"$DEVOPNESS_X\" \"${#DEVOPNESS_X}\" \"${LC_ALL-unset}\" "
          "\"$(dv_daemon_unit_name 7)\"\n")


@pytest.mark.parametrize("locale", [{"LC_ALL": "C.UTF-8"}, {"LANG": "C.UTF-8"}, {"LC_ALL": "C"}])
def test_scripts_share_a_session_whatever_their_text_and_run_in_the_servers_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, locale: dict[str, str]
) -> None:
    """The chain cuts what it runs, and each script's packed helpers when called, from one
    variable by offset: in bytes, bash cutting them in the C locale, so text that is not
    ASCII (a variable's value) is cut where it was put whatever the server's locale, while
    each script runs in that locale."""
    read = scripts._read
    monkeypatch.setattr(scripts, "_read",
                        lambda name: _PROBE if name == "test/locale-probe" else read(name))
    values = ["café ☕", "plain", "☕☕"]
    done = subprocess.run(
        ["/bin/bash", "-s"], input=_chain(*[("test/locale-probe", {"DEVOPNESS_X": v})
                                            for v in values]).encode(),
        capture_output=True, timeout=30, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **locale})
    assert done.returncode == 0 and done.stderr == b"", done
    utf8 = "UTF-8" in next(iter(locale.values()))
    seen = re.findall(r"\[(.*)\]", done.stdout.decode())
    assert seen == [f"{v}|{len(v) if utf8 else len(v.encode())}|{locale.get('LC_ALL', 'unset')}"
                    f"|devopness-daemon-7" for v in values], done.stdout.decode()


def test_a_chain_cut_short_runs_nothing(tmp_path: Path) -> None:
    program = _chain(("server/get-status", {}), ("server/get-status", {})).encode()
    done = subprocess.run(["/bin/bash", "-s"], input=program[:-300], capture_output=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=30,
                          check=False)
    assert (done.returncode, done.stdout) == (1, b""), done
    assert done.stderr == b"error: the script did not arrive whole\n"


# What a script sees of the shell it runs in: how it splits words and whether it globs.
_SHELL_PROBE = ("words='a b'; set -- $words; matched=(/bin/bas[h])\n"
                "printf '[%s|%q|%s|%s]\\n' \"$#\" \"$IFS\" \"${matched[0]}\" \"$-\"\n")


@pytest.mark.parametrize("how", ["alone", "alone with lazy helpers", "chained",
                                 "chained with lazy helpers"])
def test_a_script_runs_with_the_shells_word_splitting_and_globbing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The scripts are evaluated unquoted, with splitting and globbing off (quoted, bash
    copies them twice more); each runs with both back on, as in any shell."""
    read = scripts._read
    lazy = ("# devopness: helpers daemon only when DEVOPNESS_APP_DAEMONS\n"
            "printf '<%s>\\n' \"$(dv_daemon_unit_name 5)\"\n")
    # A name per case (what a script needs is cached by its name); in a chain, the script
    # with helpers to load comes second, its text well after the program's start.
    probe = "test/shell-probe-" + how.replace(" ", "-")
    bodies = {probe: (lazy if "lazy" in how else "") + _SHELL_PROBE, "test/plain": _SHELL_PROBE}
    monkeypatch.setattr(scripts, "_read", lambda name: bodies.get(name) or read(name))
    if how.startswith("chained"):
        program = _chain(("test/plain", {}), (probe, {}))
    else:
        program = scripts.render(probe, {})
        assert ("dv__load" in program) == ("lazy" in how)
    done = subprocess.run(["/bin/bash", "-s"], input=program, text=True, capture_output=True,
                          timeout=30, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0 and done.stderr == "", done
    seen = re.findall(r"\[(.*)\]", done.stdout)
    assert seen and all(
        line.split("|")[:3] == ["2", "$' \\t\\n'", "/bin/bash"] and "f" not in line.split("|")[3]
        for line in seen), seen
    assert len(seen) == (2 if how.startswith("chained") else 1)
    assert done.stdout.count("<devopness-daemon-5>") == ("lazy" in how)


def test_chained_scripts_with_the_same_parameters_each_see_them_as_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target's steps share their parameters: the chain exports them once, before its
    first script. Each script, and what it starts, sees them as sent, whatever the script
    before it did with them."""
    probe = ("printf '[%s|%s]\\n' \"$DEVOPNESS_X\" \"$(printenv DEVOPNESS_X)\"\n"
             "export DEVOPNESS_X=changed\n")
    read = scripts._read
    monkeypatch.setattr(scripts, "_read",
                        lambda name: probe if name == "test/same-params" else read(name))
    value = "it's $HOME\nand more"
    program = _chain(*[("test/same-params", {"DEVOPNESS_X": value})] * 3)
    assert program.count(scripts._exports({"DEVOPNESS_X": value})[0]) == 1
    done = subprocess.run(["/bin/bash", "-s"], input=program, text=True, capture_output=True,
                          timeout=30, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0 and done.stderr == "", done
    assert done.stdout.count(f"[{value}|{value}]") == 3, done.stdout


def test_packed_helpers_need_base64_and_gzip_only_when_one_is_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script that never calls a packed family's function runs where gzip is missing; one
    that does stops there, saying what the server lacks."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("base64", "cat", "printf"):
        (tools / tool).symlink_to(f"/usr/bin/{tool}")
    calls = ("# devopness: helpers daemon only when DEVOPNESS_APP_DAEMONS\n"
             "echo before\n[ -z \"${CALL:-}\" ] || dv_daemon_unit_name 7\necho after\n")
    read = scripts._read
    monkeypatch.setattr(scripts, "_read",
                        lambda name: calls if name == "test/packed-probe" else read(name))
    program = scripts.render("test/packed-probe", {})
    assert "dv__load" in program
    for call, status, out in [("", 0, "before\nafter\n"), ("1", 1, "before\n")]:
        done = subprocess.run(["/bin/bash", "-s"], input=program, text=True,
                              capture_output=True, timeout=30, check=False,
                              env={"PATH": str(tools), "HOME": str(tmp_path), "CALL": call})
        assert (done.returncode, done.stdout) == (status, out), done
        assert ("base64 and gzip are needed" in done.stderr) == bool(call), done.stderr


def test_every_scripts_session_command_fits_what_sshd_and_exec_take() -> None:
    """A session's command carries its program's packed families (remote_process.
    session_command): the kernel takes a word of at most 128 KB, sshd a packet of 256 KB."""
    for path in sorted(scripts.SCRIPTS_DIR.rglob("*.sh")):
        name = str(path.relative_to(scripts.SCRIPTS_DIR))[:-3]
        if name == "lib" or name.startswith("lib/"):
            continue
        command, _ = remote_process.session_command(
            ["devopness-step-1-x"], scripts.program(name, {}, "tok"))
        assert len(command.encode()) < 64_000, name
