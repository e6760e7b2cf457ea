"""How `bash -s` takes in a program rendered by `workers/engine/scripts.py`: the program's
first line, which reads the rest in one go and checks it arrived whole, and the functions
that cut what runs and the packed helper families out of it by offset.

`bash -s` reads its program one byte per system call (what it has not read stays on stdin
for the commands it starts), some 90,000 of them for the helpers: the first line reads the
rest in one read instead and runs it with `eval`, once all of it has arrived. Run as the
SSH user, the first line and the packed families are part of the session's command and
stdin carries only what runs (`remote_process.session_command`).

What bash does with a program costs it per byte, on every server at every step: reading it
(40 instructions a byte), each cut (20 a byte of the whole variable cut from: bash expands
and escapes it first), evaluating a cut (80 more when quoted: `_EVAL`), parsing (some 400).
So the families a script does not expect to call travel packed (`packed`), a third of
their bytes, read and cut but not parsed unless called.

Offsets and lengths count bytes, and bash cuts and measures the program in the C locale
(`dv__cut`, `dv__len`: `local LC_ALL=C` sets it for the function only): in a
UTF-8 locale, as sshd's PAM sets it on most servers, each cut walks the text character by
character (about 1.5 ms of CPU per 60 KB, some 9 ms a deploy's session), and a program
that is not ASCII would be cut elsewhere. The scripts themselves run in the server's
locale.
"""

from __future__ import annotations

import base64
import gzip
import shlex
from dataclasses import dataclass
from functools import cache

# The program's last line; a program cut short (a dropped connection) is not run at all.
END = "# devopness: end of program"
# Read by `bash -s` itself, byte by byte: the rest of stdin in one read (into @VAR@),
# through /dev/stdin (no process) or, where it cannot be opened (a socket, or another
# user's pipe after sudo), `cat`. Whole when it is as long as sent (@LENGTH@ bytes; a
# dropped connection only shortens it), or else ends with `END` (a pattern match over the
# whole program, 0.6 ms of a step's CPU at 80 KB). `dv__cut NAME OFFSET LENGTH` sets DV_CUT
# to those bytes of variable NAME. The length is measured, and what runs first cut
# (@CUT@), in one function: each `local LC_ALL=C` costs bash two locale switches, some
# 200,000 instructions.
_LOADER = (
    "{ @VAR@=$(</dev/stdin); } 2>/dev/null || @VAR@=$(cat); "
    "dv__cut() { local LC_ALL=C; DV_CUT=${!1:$2:$3}; }; "
    "dv__len() { local LC_ALL=C; DV_LEN=${#@VAR@}@CUT@; }; dv__len; "
    "case $DV_LEN in @LENGTH@) ;; "
    f"*) case $@VAR@ in *$'\\n'{shlex.quote(END)}) ;; "
    "*) echo 'error: the script did not arrive whole' >&2; exit 1 ;; esac ;; esac; "
    "@RUN@\n"
)
# `eval "$X"` costs bash 80 instructions a byte of X more than `eval $X` (quoted, each byte
# is escaped and unescaped again), and the scripts are tens of kilobytes: X is evaluated
# unquoted, with no field splitting (IFS empty) nor globbing (`set -f`), so still as one word,
# as it is. What is evaluated starts with `RESTORE`, so scripts run in the shell's defaults.
_EVAL = "IFS=; set -f; eval $@VAR@"
RESTORE = "set +f; IFS=$' \\t\\n'"
_RUN = _EVAL.replace("@VAR@", "DV_PROGRAM")
# With families sent unparsed, the program is read into DV_LIBS and run from `@LAZY@`, where
# the families' packed text (`packed`) ends.
_CUT = "; DV_CUT=${@VAR@:@LAZY@:@LENGTH@}"
# Loads a family (its offset and length in the script's families, unpacked into DV_LAZY on
# the first call in this shell from the @PACKED@ bytes at DV_BASE, where the script's text
# starts in the packed families, themselves at DV_OFF of variable DV_SRC: by default
# DV_LIBS, the whole program read from stdin), then makes the call that asked for it. No `local`:
# bash scopes variables dynamically, and the family's functions would see them.
LAZY_LOADER = (
    'dv__load() { if [ -z "${DV_LAZY:+x}" ]; then '
    'dv__cut "${DV_SRC:-DV_LIBS}" "$((${DV_OFF:-0} + ${DV_BASE:-0}))" @PACKED@; '
    'DV_LAZY=$(printf %s "$DV_CUT" | base64 -d | gzip -dc) || { echo "error: could not '
    'unpack the script\'s helpers (base64 and gzip are needed)" >&2; exit 1; }; fi; '
    'dv__cut DV_LAZY "$1" "$2"; eval "$DV_CUT"; shift 2; "$@"; }'
)


@dataclass(frozen=True)
class Program:
    """A rendered program: the helper families sent packed (`packed`: base64, `""` when
    none), cut from where they travel when one of their functions is called, and what runs
    (`code`, its last line `END`)."""

    packed: str
    code: str

    def text(self) -> str:
        """All of it on stdin, for `bash -s`: the first line reads the rest, packed families
        first."""
        rest = self.packed + self.code
        return loader(rest, size(self.packed)) + rest


def size(text: str) -> int:
    """What bash counts of `text` in the C locale: its bytes."""
    return len(text.encode())


def loader(rest: str, lazy: int) -> str:
    """The program's first line, for the `rest` of it (what bash reads into a variable:
    command substitution drops its last newlines): `rest` runs from byte `lazy`, read into
    DV_LIBS when there is one, else into DV_PROGRAM."""
    length = size(rest.rstrip("\n"))
    if lazy:
        variable = "DV_LIBS"
        cut = (_CUT.replace("@VAR@", variable).replace("@LAZY@", str(lazy))
               .replace("@LENGTH@", str(size(rest) - lazy)))
        run = _EVAL.replace("@VAR@", "DV_CUT")
    else:
        variable, cut, run = "DV_PROGRAM", "", _RUN
    return (_LOADER.replace("@VAR@", variable).replace("@LENGTH@", str(length))
            .replace("@CUT@", cut).replace("@RUN@", run))


@cache
def packed(text: str) -> str:
    """`text` as the families a script does not expect to call travel: gzip, then base64
    (a third of the bytes, one line). bash reads each byte of the program (40 instructions)
    and copies it whole at each cut (20 a cut): the 40 KB an activation carries unparsed
    cost it some 5 M instructions a server plain, 2 M packed. Unpacking (two processes)
    happens only on the first call of one of their functions."""
    return base64.b64encode(gzip.compress(text.encode(), compresslevel=9, mtime=0)).decode()


# A chain's output line that ends one of its scripts (all but the last, whose end is the
# session's): its token, then the script's exit status.
STEP_END = "##devopness-step-end"
