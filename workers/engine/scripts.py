"""Renders built-in shell scripts (`workers/scripts/<name>.sh`) for one run.

The rendered text is sent on the SSH session's stdin to `bash -s`: `set -euo pipefail`, the
parameters as exported shell variables (quoted, so any value is data, never code), the
shared helpers (`lib.sh`, then the `lib/*.sh` families the script uses), then the script
itself.

`bash -s` reads its program one byte per system call (what it has not read stays on stdin
for the commands it starts), some 90,000 of them for the helpers: the program's first line
reads the rest in one go instead and runs it with `eval`, once all of it has arrived.

Parsing costs bash about 0.1 ms a kilobyte, and the activate step carries 60 KB of helpers
(daemons, nginx, cron jobs) that a deploy without daemons, virtual hosts or cron jobs
never calls: 7 ms of CPU a server. A script names such families and when it uses them
(`# devopness: helpers daemon service only when DEVOPNESS_APP_DAEMONS`, or `VAR=value`):
when no condition naming a family holds, the family is sent unparsed and packed (gzip and
base64, `_packed`) at the program's start, and unpacked and parsed on first use, if any.
For each of its functions that anything else sent names, a one-line stub loads the family
(the first call unpacks the script's families with `base64` and `gzip`, then an `eval` of
the family's slice, cut by offset: a pattern match over 70 KB costs bash seconds) and calls
it again. So a wrong condition costs time, never a missing function (a first use in a
subshell parses the family in that subshell, hence the conditions rather than loading
every family on first use). A family that sets variables when loaded is always parsed at
once.

What bash does with a program costs it per byte, on every server at every step: reading it
(40 instructions a byte), each cut (20), evaluating a cut (80 more when quoted: `_EVAL`),
parsing (some 400). So comment and blank lines are not sent (`_bare`), and in a chain of
scripts the helpers they all parse at once are parsed once, before the first
(`render_chain`).

Offsets and lengths count bytes, and bash cuts and measures the program in the C locale
(`dv__cut`, `dv__len`, `dv__part`: `local LC_ALL=C` sets it for the function only): in a
UTF-8 locale, as sshd's PAM sets it on most servers, each cut walks the text character by
character (about 1.5 ms of CPU per 60 KB, some 9 ms a deploy's session), and a program
that is not ASCII would be cut elsewhere. The scripts themselves run in the server's locale.
"""

from __future__ import annotations

import base64
import gzip
import re
import shlex
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "scripts"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnknownScript(Exception):
    pass


@cache
def _read(name: str) -> str:
    if not _NAME.match(name):
        raise UnknownScript(f"Invalid built-in script name {name!r}.")
    path = SCRIPTS_DIR / f"{name}.sh"
    if not path.is_file():
        raise UnknownScript(f"There is no built-in script {name!r}.")
    return path.read_text()


# A here-document's start (`<<EOF`, `<<-'EOF'`; not a here-string `<<<`): its body runs
# to the line holding only its word (after tabs, for `<<-`).
_HEREDOC = re.compile(r"(?<!<)<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


@cache
def _bare(text: str) -> str:
    """`text` as sent: without its comment lines and blank lines, a third of the scripts'
    bytes, each of which bash reads, cuts, copies and parses on every server at every step
    (see above). Lines in here-documents stay as they are. bash parses
    the result to the same commands (tests/actions/test_scripts.py compares each script's
    commands as `declare -f` prints them); line numbers in bash's own errors change."""
    kept: list[str] = []
    # The here-documents begun and not ended: (word, tabs stripped).
    pending: list[tuple[str, bool]] = []
    for line in text.split("\n"):
        if pending:
            kept.append(line)
            word, tabs = pending[0]
            if (line.lstrip("\t") if tabs else line) == word:
                pending.pop(0)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        kept.append(line)
        pending += [(m[3], m[1] == "-") for m in _HEREDOC.finditer(line)]
    return "\n".join(kept) + ("\n" if text.endswith("\n") else "")


def exists(name: str) -> bool:
    try:
        _read(name)
    except UnknownScript:
        return False
    return True


@cache
def _helpers() -> str:
    """`lib.sh`, then every `lib/*.sh` (helpers of one family each), in name order."""
    parts = [_read("lib")]
    parts += [p.read_text() for p in sorted((SCRIPTS_DIR / "lib").glob("*.sh"))]
    return "\n".join(parts)


# The program's last line; a program cut short (a dropped connection) is not run at all.
_END = "# devopness: end of program"
# Read by `bash -s` itself, byte by byte: the rest of stdin in one read (into @VAR@),
# through /dev/stdin (no process) or, where it cannot be opened (a socket, or another
# user's pipe after sudo), `cat`. Whole when it is as long as sent (@LENGTH@ bytes; a
# dropped connection only shortens it), or else ends with `_END` (a pattern match over the
# whole program, 0.6 ms of a step's CPU at 80 KB). `dv__cut NAME OFFSET LENGTH` sets DV_CUT
# to those bytes of variable NAME. The length is measured, and what runs first cut
# (@CUT@), in one function: each `local LC_ALL=C` costs bash two locale switches, some
# 200,000 instructions.
_LOADER = (
    "{ @VAR@=$(</dev/stdin); } 2>/dev/null || @VAR@=$(cat); "
    "dv__cut() { local LC_ALL=C; DV_CUT=${!1:$2:$3}; }; "
    "dv__len() { local LC_ALL=C; DV_LEN=${#@VAR@}@CUT@; }; dv__len; "
    "case $DV_LEN in @LENGTH@) ;; "
    f"*) case $@VAR@ in *$'\\n'{shlex.quote(_END)}) ;; "
    "*) echo 'error: the script did not arrive whole' >&2; exit 1 ;; esac ;; esac; "
    "@RUN@\n"
)
# `eval "$X"` costs bash 80 instructions a byte of X more than `eval $X` (quoted, each byte
# is escaped and unescaped again), and the scripts are tens of kilobytes: X is evaluated
# unquoted, with no field splitting (IFS empty) nor globbing (`set -f`), so still as one word,
# as it is. What is evaluated starts with `_RESTORE`, so scripts run in the shell's defaults.
_EVAL = "IFS=; set -f; eval $@VAR@"
_RESTORE = "set +f; IFS=$' \\t\\n'"
_RUN = _EVAL.replace("@VAR@", "DV_PROGRAM")
# With families sent unparsed, the program is read into DV_LIBS and run from `@LAZY@`, where
# the families' packed text (`_packed`) ends.
_CUT = "; DV_CUT=${@VAR@:@LAZY@:@LENGTH@}"
# Loads a family (its offset and length in the script's families, unpacked into DV_LAZY on
# the first call in this shell from the @PACKED@ bytes at DV_BASE, where the script's text
# starts in DV_LIBS, the whole program), then makes the call that asked for it. No `local`:
# bash scopes variables dynamically, and the family's functions would see them.
_LAZY_LOADER = (
    'dv__load() { if [ -z "${DV_LAZY:+x}" ]; then dv__cut DV_LIBS "${DV_BASE:-0}" @PACKED@; '
    'DV_LAZY=$(printf %s "$DV_CUT" | base64 -d | gzip -dc) || { echo "error: could not '
    'unpack the script\'s helpers (base64 and gzip are needed)" >&2; exit 1; }; fi; '
    'dv__cut DV_LAZY "$1" "$2"; eval "$DV_CUT"; shift 2; "$@"; }'
)


def size(text: str) -> int:
    """What bash counts of `text` in the C locale: its bytes."""
    return len(text.encode())


def _loader(rest: str, lazy: int, variable: str | None = None) -> str:
    """The program's first line, for the `rest` of it (what bash reads into a variable:
    command substitution drops its last newlines): `rest` runs from byte `lazy`, read into
    DV_LIBS when there is one, else into DV_PROGRAM; or into `variable`."""
    length = size(rest.rstrip("\n"))
    if variable is not None or lazy:
        variable = variable or "DV_LIBS"
        cut = (_CUT.replace("@VAR@", variable).replace("@LAZY@", str(lazy))
               .replace("@LENGTH@", str(size(rest) - lazy)))
        run = _EVAL.replace("@VAR@", "DV_CUT")
    else:
        variable, cut, run = "DV_PROGRAM", "", _RUN
    return (_LOADER.replace("@VAR@", variable).replace("@LENGTH@", str(length))
            .replace("@CUT@", cut).replace("@RUN@", run))


@cache
def _packed(text: str) -> str:
    """`text` as the families a script does not expect to call travel: gzip, then base64
    (a third of the bytes, one line). bash reads each byte of the program (40 instructions)
    and copies it whole at each cut (20 a cut): the 40 KB an activation carries unparsed
    cost it some 5 M instructions a server plain, 2 M packed. Unpacking (two processes)
    happens only on the first call of one of their functions."""
    return base64.b64encode(gzip.compress(text.encode(), compresslevel=9, mtime=0)).decode()


# What a helper family defines: its functions, and the DV_ variables it sets at load time.
_DEFINED = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(\)|^(DV_[A-Z0-9_]+)=", re.M)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A function named at run time (`"dv_runtime_source_$language"`, `"dv_${kind}_remove"`):
# what comes before and after the expansion.
_NAME_TEMPLATE = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*_)\$(?:\{[^}]*\}|[A-Za-z0-9_]+)([A-Za-z0-9_]*)"
)


@cache
def _family_names() -> tuple[str, ...]:
    """The `lib/*.sh` families' names, in the order of `_families()`."""
    return tuple(p.stem for p in sorted((SCRIPTS_DIR / "lib").glob("*.sh")))


_ONLY_WHEN = re.compile(
    r"^# devopness: helpers ([a-z0-9_ -]+?) only when ([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?[ \t]*$",
    re.M,
)


@cache
def _conditions(name: str) -> tuple[tuple[str, str, str | None], ...]:
    """(family, variable, value or None for "not empty") of script `name`'s directives."""
    return tuple(
        (family, variable, value if value else None)
        for families, variable, value in _ONLY_WHEN.findall(_read(name))
        for family in families.split()
    )


def _unused(name: str, env: Mapping[str, str]) -> frozenset[str]:
    """The families script `name` says it does not use with these parameters."""
    holds: dict[str, bool] = {}
    for family, variable, value in _conditions(name):
        met = (env.get(variable, "") == value) if value is not None else bool(env.get(variable))
        holds[family] = holds.get(family, False) or met
    return frozenset(family for family, met in holds.items() if not met)


@cache
def _families() -> tuple[tuple[str, frozenset[str]], ...]:
    """Each `lib/*.sh` (in name order): its text and the names it defines."""
    families = []
    for path in sorted((SCRIPTS_DIR / "lib").glob("*.sh")):
        text = path.read_text()
        names = frozenset(a or b for a, b in _DEFINED.findall(text))
        families.append((text, names))
    return tuple(families)


@cache
def _needed(name: str) -> tuple[int, ...]:
    """The helper families script `name` needs (indexes in `_families()`): those defining
    a name the script (or a family already needed) mentions, to a fixed point. Mentioning
    a name is enough, even in a comment, so a family is never left out of a script that
    needs it."""
    families = _families()
    words: set[str] = set()
    templates: set[tuple[str, str]] = set()

    def mention(text: str) -> None:
        words.update(_WORD.findall(text))
        templates.update(_NAME_TEMPLATE.findall(text))

    mention(_read(name) + "\n" + _read("lib"))
    chosen: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, (text, names) in enumerate(families):
            if i in chosen:
                continue
            if names & words or any(
                n.startswith(head) and n.endswith(tail) for n in names for head, tail in templates
            ):
                chosen.add(i)
                mention(text)
                changed = True
    return tuple(sorted(chosen))


def _sets_variables(family: int) -> bool:
    """Whether family `family` (an index in `_families()`) sets variables when parsed: each
    script then parses it itself, at once."""
    return any(n.startswith("DV_") for n in _families()[family][1])


@cache
def _parsed(name: str, unused: frozenset[str]) -> tuple[int, ...]:
    """The families script `name` needs and parses at once (indexes in `_families()`):
    all but those in `unused`, save those that set variables when parsed."""
    return tuple(i for i in _needed(name)
                 if _family_names()[i] not in unused or _sets_variables(i))


@cache
def _layout(name: str, unused: frozenset[str], shared: frozenset[int] | None = None
            ) -> tuple[str, str]:
    """(the families sent unparsed, packed, and what is parsed at once: `lib.sh`, the stubs and the
    other families) for script `name`, the families in `unused` unparsed if they can be.
    In a chain, `lib.sh` and the families in `shared` are parsed once for all its scripts
    (`render_chain`), and left out here.

    A family sent unparsed gets a stub for each of its functions that something else names
    (the script, `lib.sh`, the families parsed at once, the other unparsed families): its
    own functions are all defined once it is parsed. Each stub costs bash a parse (an
    activation carries some 90 functions of daemons, nginx, cron jobs and services, 6 KB)."""
    parsed = _parsed(name, unused)
    lazy_ones = [(i, _families()[i][0], _families()[i][1]) for i in _needed(name)
                 if i not in parsed]
    named = "\n".join([_read(name), _read("lib"), *(_families()[i][0] for i in parsed)])
    lazy: list[str] = []
    stubs: list[str] = []
    offset = 0
    for i, text, names in lazy_ones:
        others = "\n".join([named, *(t for j, t, _ in lazy_ones if j != i)])
        words, templates = set(_WORD.findall(others)), set(_NAME_TEMPLATE.findall(others))
        sent = _bare(text) + "\n"
        stubs += [f'{f}() {{ dv__load {offset} {size(sent)} {f} "$@"; }}' for f in sorted(names)
                  if f in words or any(f.startswith(h) and f.endswith(t) for h, t in templates)]
        lazy.append(sent)
        offset += size(sent)
    packed = _packed("".join(lazy)) if lazy else ""
    loader = [_LAZY_LOADER.replace("@PACKED@", str(size(packed)))] if lazy else []
    lib = [] if shared is not None else [_bare(_read("lib"))]
    eager = [_bare(_families()[i][0]) for i in parsed if shared is None or i not in shared]
    return packed, "\n".join([*lib, *loader, *stubs, *eager])


_RESULT_CALL = re.compile(r"\bdv_result\s+([a-z0-9_]+)\s")


@cache
def result_keys(name: str) -> frozenset[str]:
    """The result keys script `name` may report: those it (or a shared helper) passes to
    `dv_result` literally. A result line with any other key is ignored."""
    return frozenset(_RESULT_CALL.findall(_read(name) + "\n" + _helpers()))


def render(name: str, env: Mapping[str, str], result_token: str = "") -> str:
    """The full program for `bash -s`: parameters, helpers, then the script.

    `result_token` marks the script's own result lines; it is a shell variable of the
    script, not exported, so nothing the script starts can print a line that counts."""
    rest, lazy = _program(name, env, result_token)
    return _loader(rest, lazy) + rest


def _exports(env: Mapping[str, str]) -> list[str]:
    """The command that exports the parameters `env` (none without any: a bare `export`
    lists them). One command for all: a step has some 40 parameters, and each command
    costs bash tens of thousands of instructions whatever it does."""
    exported = [f"{key}={shlex.quote(str(env[key]))}" for key in sorted(env)
                if _ENV_NAME.match(key) and not key.startswith("DV_")]
    return ["export " + " \\\n  ".join(exported)] if exported else []


def _program(name: str, env: Mapping[str, str], result_token: str,
             shared: frozenset[int] | None = None, exported: bool = False
             ) -> tuple[str, int]:
    """What the first line reads and runs (`_loader`), and the length of the families sent
    unparsed at its start (0: none). `shared`: as `_layout` has it; `exported`: the
    parameters are exported already (by a chain's runner)."""
    body = _bare(_read(name))
    # No arguments: the session may pass the step's marker (remote_process.wrap_script).
    lines = [_RESTORE, "unset DV_PROGRAM DV_CUT DV_LAZY", "set --", "set -euo pipefail",
             "umask 022"]
    if not exported:
        lines += _exports(env)
    lines.append(f"declare +x DV_RESULT_TOKEN={shlex.quote(result_token)}")
    lines.append(f"DEVOPNESS_SCRIPT={shlex.quote(name)}")
    lazy, helpers = _layout(name, _unused(name, env), shared)
    return (lazy + "\n".join(lines) + "\n" + helpers + "\n" + body + "\n" + _END + "\n",
            size(lazy))


# A chain's output line that ends one of its scripts (all but the last, whose end is the
# session's): its token, then the script's exit status.
STEP_END = "##devopness-step-end"
# Runs script OFFSET LENGTH LAZY MARKER of the chain (its text in DV_LIBS, where its families
# sent unparsed start, from DV_BASE): the marker in the environment of what it starts, as a
# session of its own would have it (`wrap_script`). One cut (each copy of 80 KB costs bash
# 0.4 ms), where the text is assigned.
_CHAIN_RUN = (
    'dv__part() { local LC_ALL=C; DV_BASE=$1; DV_CUT=${DV_LIBS:$1+$3:$2-$3}; }\n'
    'dv__chain() { export DEVOPNESS_STEP=$4; dv__part "$@"; '
    + _EVAL.replace("@VAR@", "DV_CUT") + '; }\n'
)


def render_chain(scripts: Sequence[tuple[str, Mapping[str, str], str, str]], end_token: str
                 ) -> str:
    """One program for `bash -s` that runs several scripts in turn, each (name, parameters,
    result token, step marker) as `render` would run it alone, and stops at the first that
    fails: every script but the last in a subshell of its own (its `exit` and traps end
    there), followed by a `STEP_END` line with `end_token` and its exit status; the last in
    the session's shell, whose exit status is the session's. Output and errors go to one
    stream, in the order they were written."""
    # Parsed once, by the session's shell before it runs the scripts (each in a subshell
    # of it, the last in it): `lib.sh` and the families every script parses at once (but
    # those that set variables when parsed: each script starts with them as parsed).
    parsed = [set(_parsed(name, _unused(name, env))) for name, env, _, _ in scripts]
    shared = frozenset(i for i in set.intersection(*parsed or [set()])
                       if not _sets_variables(i))
    # So are the parameters, when all the scripts have the same (a target's steps do).
    exports = {tuple(_exports(env)) for _, env, _, _ in scripts}
    exported = len(exports) == 1
    common = list(next(iter(exports))) if exported else []
    parts = [(_program(name, env, token, shared, exported), marker)
             for name, env, token, marker in scripts]
    helpers = [_bare(_read("lib")), *(_bare(_families()[i][0]) for i in sorted(shared))]
    lines = [_RESTORE, "exec 2>&1", *common, *helpers, _CHAIN_RUN.rstrip("\n")]
    offset = 0
    for i, ((rest, lazy), marker) in enumerate(parts):
        call = f"dv__chain {offset} {size(rest)} {lazy} {marker}"
        offset += size(rest)
        if i == len(parts) - 1:
            lines.append(call)
            break
        lines.append(f"({call}); dv__status=$?")
        lines.append(f"printf '\\n%s %s %s\\n' {shlex.quote(STEP_END)} {shlex.quote(end_token)} "
                     '"$dv__status"')
        lines.append('[ "$dv__status" = 0 ] || exit "$dv__status"')
    # The scripts first, from offset 0, then what runs them.
    rest = "".join(text for (text, _), _ in parts) + "\n".join(lines) + "\n" + _END + "\n"
    return _loader(rest, offset, variable="DV_LIBS") + rest
