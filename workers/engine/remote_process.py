"""A step's processes on its server: the marker that wraps each command so they can be
found, and stopping them (on a stop, a timeout, or what an earlier run left alive)."""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncssh

from app.actions.models import ActionStep
from app.actions.targets import ServerAccess
from workers.engine import intake
from workers.engine.intake import Program
from workers.engine.run import ActionRun, StepFailed, StepSpec, plain_update

if TYPE_CHECKING:
    from workers.engine.plans import TargetPlan

logger = logging.getLogger(__name__)


def step_marker(step: StepSpec) -> str:
    # Step ids alone are not unique on a server that several control planes (or a rebuilt
    # database) reach: the run's random token keeps one from killing another's process.
    return f"devopness-step-{step.id}-{step.token}"


def as_user(
    command: str, user: str | None, access: ServerAccess, marker: str | None = None
) -> str:
    if user and user != access.username:
        # sudo resets the environment: carry the marker across so the step's processes
        # run as that user still carry it (and a stop finds them, see _KILL).
        marked = f"env {MARKER_VARIABLE}={marker} " if marker else ""
        return f"sudo -n -H -u {shlex.quote(user)} {marked}/bin/sh -c {shlex.quote(command)}"
    return command


MARKER_VARIABLE = "DEVOPNESS_STEP"


def wrap(step: StepSpec, access: ServerAccess, command: str | None = None) -> str:
    # The SSH session's shell leads its own process group (sshd calls setsid), and its
    # command line (`sh -c <this>`) carries the step's marker; every process it starts
    # inherits the marker in its environment, even one that leaves the group or is run
    # as another user through sudo. A stop finds them all by it (see _KILL). No pid file:
    # nothing to write, and nothing to remove afterwards. The command runs in that shell
    # itself on lines of its own; the closing `exit` keeps the shell from exec'ing the
    # command in its place (dash and bash do so for a last command), which would take
    # the marker out of the group leader's command line.
    marker = step_marker(step)
    command = as_user(command or step.command, step.run_as_user, access, marker)
    return f": {marker}\nexport {MARKER_VARIABLE}={marker}\n{command}\nexit $?"


# Runs a built-in script: the program arrives on stdin (workers/engine/scripts.py).
SCRIPT_SHELL = "/bin/bash -s"
# Shell options (`shopt`, off by default) that change how a script is parsed or runs.
_UNSAFE_OPTIONS = [
    "assoc_expand_once", "cdable_vars", "compat31", "compat32", "compat40", "compat41",
    "compat42", "compat43", "compat44", "dotglob", "execfail", "expand_aliases", "extdebug",
    "extglob", "failglob", "globstar", "inherit_errexit", "lastpipe", "localvar_inherit",
    "localvar_unset", "nocaseglob", "nocasematch", "noexpand_translation", "nullglob",
    "shift_verbose", "varredir_close", "xpg_echo",
]
# The session's shell (the SSH user's login shell, `-c` this) runs the program itself when
# it is bash as a fresh bash would be: the same binary (bash names itself by PATH:
# /usr/bin/bash where /bin is a link to /usr/bin), the default `set -o` options, no
# function, alias, shell option or variable (not exported: an exported one reaches a new
# bash too) that a startup file could have left (bash run by sshd reads ~/.bashrc, which
# returns at once when not interactive on Debian and Ubuntu). That saves a bash start on
# every server at every session, some 1.2 ms of its CPU (an exec, the dynamic loader,
# bash's own start). Otherwise, or in another shell, it becomes a fresh bash, which reads
# no startup file (`--norc`: a `bash -c` started by sshd's shell would read ~/.bashrc).
# `compgen` answers 1 when nothing matches (and is missing from a bash built without
# completion: the fresh bash then).
#
# The program's first line (`intake.loader`: lengths and offsets, no secret) is part of
# the command, where `bash -s` would read it from stdin a byte per system call, and so are
# its packed helper families (our own code, gzip and base64: no secret either), last:
# bash parses a `-c` string a command at a time, so the shell that runs the program never
# parses them, and cuts them from its `BASH_EXECUTION_STRING` (DV_SRC, at byte DV_OFF)
# only when one of their functions is called; the fresh bash gets them as its `$1`. On
# stdin, read and cut with the program, they cost some 0.5 ms a session.
_SESSION = """: @MARKERS@
export @VARIABLE@=@FIRST@
dv__intake=@LOADER@
if [ -n "${BASH-}" ] && [ "$BASH" -ef /bin/bash ] \\
  && [ "${SHELLOPTS-}" = braceexpand:hashall:interactive-comments ] \\
  && [ -z "${GLOBIGNORE+x}${CDPATH+x}${BASH_COMPAT+x}${POSIXLY_CORRECT+x}${BASH_ENV+x}" ]; then
  compgen -A function >/dev/null 2>&1; dv__fresh=$?
  compgen -a >/dev/null 2>&1; dv__fresh=$dv__fresh$?
  case :$BASHOPTS: in @UNSAFE@) dv__fresh=no ;; esac
fi
if [ "${dv__fresh-}" = 11 ]; then
  unset dv__fresh; DV_SRC=BASH_EXECUTION_STRING DV_OFF=@OFFSET@; eval "$dv__intake"; exit
fi
exec /bin/bash --norc -c "DV_SRC=DV_PACKED DV_PACKED=\\$1; $dv__intake" /bin/bash \\
  '@PACKED@' @MARKERS@"""
_SESSION = (_SESSION.replace("@VARIABLE@", MARKER_VARIABLE)
            .replace("@UNSAFE@", " | ".join(f"*:{option}:*" for option in _UNSAFE_OPTIONS)))
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")


def script_session(steps: Sequence[StepSpec], access: ServerAccess, program: Program
                   ) -> tuple[str, str]:
    """The session command of built-in script steps, one or several run in turn in one
    session (`scripts.chain`, all as the SSH user), and what it reads on stdin, for their
    `program` (`scripts.program`). The markers of all the steps are on the session shell's
    command line, or the fresh bash's: a stop of any of them stops the session, which runs
    it or is about to; the processes each script starts carry its own marker. Run as
    another user (through sudo), the program's shell is `bash -s`, started by `sh` as that
    user, all of the program on stdin."""
    step = steps[0]
    if step.run_as_user and step.run_as_user != access.username:
        assert len(steps) == 1, "a chain runs as the SSH user"
        return wrap(step, access, SCRIPT_SHELL), program.text()
    return session_command([step_marker(s) for s in steps], program)


def session_command(markers: Sequence[str], program: Program) -> tuple[str, str]:
    """The command of a session (the SSH user's login shell runs it with `-c`) that runs
    `program`, the first of `markers` its steps' marker, and its stdin."""
    assert _BASE64.fullmatch(program.packed), "packed families are base64"
    loader = intake.loader(program.code, 0).rstrip("\n")
    command = (_SESSION.replace("@MARKERS@", " ".join(markers)).replace("@FIRST@", markers[0])
               .replace("@LOADER@", shlex.quote(loader)))
    # Where the packed families start in the command, whose own digits count.
    head = command[:command.index("'@PACKED@'") + 1]
    offset = 0
    while (found := intake.size(head.replace("@OFFSET@", str(offset)))) != offset:
        offset = found
    return (command.replace("@OFFSET@", str(offset)).replace("@PACKED@", program.packed),
            program.code)


# Stops every process of a step: those whose command line or environment carries its
# marker, their descendants and their process groups; TERM, then KILL after 2 s. Exits 0
# once none is left (zombies count as gone), 1 when some could not be stopped (not
# permitted: another user's). The marker is split in this script's own text (`@HEAD@`
# and `@TAIL@`) so that its own shell does not match (grep matches itself, and is gone
# by the time the matches are checked).
_KILL = r"""
m=@HEAD@-''@TAIL@
found=$( { grep -l -a -F -- "$m" /proc/[0-9]*/cmdline; \
  grep -l -a -F -- "@VAR@=$m" /proc/[0-9]*/environ; } 2>/dev/null | cut -d/ -f3 | sort -u)
roots=
for p in $found; do [ "$p" != "$$" ] && [ -d "/proc/$p" ] && roots="$roots $p"; done
[ -n "$roots" ] || exit 0
tree=$(ps -e -o pid= -o ppid= -o pgid= | awk -v roots="$roots" -v self="$$" '
  BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) mark[r[i]] = 1 }
  { pid[NR] = $1; ppid[NR] = $2; pgid[NR] = $3; if ($1 in mark) group[$3] = 1 }
  END {
    do {
      changed = 0
      for (i = 1; i <= NR; i++)
        if (!(pid[i] in mark) && pid[i] != self && (ppid[i] in mark || pgid[i] in group)) {
          mark[pid[i]] = 1; changed = 1
        }
    } while (changed)
    for (p in mark) print p
  }')
alive() {
  for p in $tree; do
    s=$(ps -o stat= -p "$p" 2>/dev/null) || continue
    case $s in Z*) ;; *) return 0 ;; esac
  done
  return 1
}
kill -TERM $tree 2>/dev/null
i=0
while [ $i -lt 20 ]; do alive || exit 0; sleep 0.1; i=$((i + 1)); done
kill -KILL $tree 2>/dev/null
sleep 0.2
alive && exit 1
exit 0
"""


async def kill_remote(
    conn: asyncssh.SSHClientConnection, marker: str, ssh_user: str | None,
    run_as_user: str | None,
) -> bool:
    """Stop a step's processes with the privilege it was started with; True once none is
    left."""
    head, tail = marker.split("-", 1)
    script = (_KILL.replace("@HEAD@", head).replace("@TAIL@", tail)
              .replace("@VAR@", MARKER_VARIABLE))
    commands = [script]
    if run_as_user and run_as_user != ssh_user:
        # Its processes run as that user: only that user (or root, through the same
        # sudo rule the step used) may signal them. Then the SSH user's own shell.
        commands.insert(
            0, f"sudo -n -u {shlex.quote(run_as_user)} /bin/sh -c {shlex.quote(script)}"
        )
    stopped = False
    for command in commands:
        try:
            result = await asyncio.wait_for(conn.run(command, check=False), 15)
            stopped = result.exit_status == 0
        except (TimeoutError, asyncssh.Error, OSError):
            logger.warning("could not stop remote step %s", marker, exc_info=True)
            stopped = False
    return stopped


async def kill_step(
    conn: asyncssh.SSHClientConnection, access: ServerAccess | None, step: StepSpec
) -> None:
    stopped = await kill_remote(
        conn, step_marker(step), access.username if access else None, step.run_as_user
    )
    step.left_running = not stopped


async def stop_leftovers(
    run: ActionRun, conn: asyncssh.SSHClientConnection, plan: TargetPlan
) -> None:
    """No step starts on a server while an earlier run of one may still be alive there."""
    for step_id, record in plan.leftovers:
        stopped = await kill_remote(
            conn, str(record.get("marker", "")), record.get("ssh_user"),
            record.get("run_as_user"),
        )
        if not stopped:
            raise StepFailed(
                f"An earlier run of step {step_id} may still be running on this server "
                "and could not be stopped; nothing was started, so it does not run twice."
            )
        async with run.database.transaction() as session:
            await session.execute(
                plain_update(ActionStep).where(ActionStep.id == step_id).values(remote_process=None)
            )
        logger.warning("stopped what step %s left running on its server", step_id)
    plan.leftovers.clear()


def process_record(step: StepSpec, access: ServerAccess) -> dict[str, Any]:
    return {"marker": step_marker(step), "ssh_user": access.username,
            "run_as_user": step.run_as_user}
