"""Renders built-in shell scripts (`workers/scripts/<name>.sh`) for one run.

The rendered text is sent on the SSH session's stdin to `bash -s`: `set -euo pipefail`, the
parameters as exported shell variables (quoted, so any value is data, never code), the
shared helpers (`lib.sh`, then the `lib/*.sh` families the script uses), then the script
itself.

How bash takes the program in (its first line, the cuts by offset) is `intake`'s.

Parsing costs bash about 0.1 ms a kilobyte, and the activate step carries 60 KB of helpers
(daemons, nginx, cron jobs) that a deploy without daemons, virtual hosts or cron jobs
never calls: 7 ms of CPU a server. A script names such families and when it uses them
(`# devopness: helpers daemon service only when DEVOPNESS_APP_DAEMONS`, or `VAR=value`):
when no condition naming a family holds, the family is sent unparsed and packed (gzip and
base64, `intake.packed`; `intake.Program.packed`: on stdin at the program's start, or in
the session's command, `remote_process.session_command`), and unpacked and parsed on first
use, if any.
For each of its functions that anything else sent names, a one-line stub loads the family
(the first call unpacks the script's families with `base64` and `gzip`, then an `eval` of
the family's slice, cut by offset: a pattern match over 70 KB costs bash seconds) and calls
it again. So a wrong condition costs time, never a missing function (a first use in a
subshell parses the family in that subshell, hence the conditions rather than loading
every family on first use). A family that sets variables when loaded is always parsed at
once.

What bash does with a program costs it per byte, on every server at every step (`intake`):
parsing most, some 400 instructions a byte. So comment and blank lines are not sent
(`_bare`), and in a chain of scripts the helpers they all parse at once are parsed once,
before the first (`chain`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from workers.engine import intake
from workers.engine.intake import STEP_END, size

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
    (`chain`), and left out here.

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
    packed = intake.packed("".join(lazy)) if lazy else ""
    loader = [intake.LAZY_LOADER.replace("@PACKED@", str(size(packed)))] if lazy else []
    lib = [] if shared is not None else [_bare(_read("lib"))]
    eager = [_bare(_families()[i][0]) for i in parsed if shared is None or i not in shared]
    return packed, "\n".join([*lib, *loader, *stubs, *eager])


# A line with `dv_result KEY VALUE [KEY VALUE]...` calls: from the first, to the end of the
# line (continuation lines included).
_RESULT_CALLS = re.compile(r"\bdv_result[ \t](?:[^\n\\]|\\.|\\\n)*")
_RESULT_KEY = re.compile(r"[a-z0-9_]+")


def _operator(word: str, punctuation: str) -> bool:
    """Whether shlex's `word` ends a command (`;`, `&&`, `|`...): an empty word is a value."""
    return bool(word) and not word.strip(punctuation)


def _result_keys_of(text: str) -> set[str]:
    """The keys `text`'s `dv_result` calls name literally: every other word of a call's
    arguments from the first, up to the first that is no key (an expansion, a comment's
    placeholder) or the end of the command (`;`, `&&`, `|`...), for each call of a line."""
    keys = set()
    for line in _RESULT_CALLS.finditer(text):
        lexer = shlex.shlex(line[0].replace("\\\n", " "), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        at = 0
        while at < len(words):
            at += 1
            if words[at - 1] != "dv_result":
                continue
            while (at + 1 < len(words) and _RESULT_KEY.fullmatch(words[at])
                   and not _operator(words[at + 1], lexer.punctuation_chars)):
                keys.add(words[at])
                at += 2
    return keys


@cache
def result_keys(name: str) -> frozenset[str]:
    """The result keys script `name` may report: those it (or a shared helper) passes to
    `dv_result` literally. A result line with any other key is ignored."""
    return frozenset(_result_keys_of(_read(name) + "\n" + _helpers()))


def program(name: str, env: Mapping[str, str], result_token: str = "") -> intake.Program:
    """Script `name`'s program: parameters, helpers, then the script.

    `result_token` marks the script's own result lines; it is a shell variable of the
    script, not exported, so nothing the script starts can print a line that counts."""
    rest, lazy = _program(name, env, result_token)
    return intake.Program(rest[:lazy], rest[lazy:])


def render(name: str, env: Mapping[str, str], result_token: str = "") -> str:
    """The full program for `bash -s` (`program`)."""
    return program(name, env, result_token).text()


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
    """What the first line reads and runs (`intake.loader`), and the length of the families
    sent packed at its start (0: none). `shared`: as `_layout` has it; `exported`: the
    parameters are exported already (by a chain's runner)."""
    body = _bare(_read(name))
    # No arguments: the session may pass the steps' markers (remote_process.script_session).
    lines = [intake.RESTORE, "unset DV_PROGRAM DV_CUT DV_LAZY dv__intake", "set --",
             "set -euo pipefail", "umask 022"]
    if not exported:
        lines += _exports(env)
    lines.append(f"declare +x DV_RESULT_TOKEN={shlex.quote(result_token)}")
    lines.append(f"DEVOPNESS_SCRIPT={shlex.quote(name)}")
    lazy, helpers = _layout(name, _unused(name, env), shared)
    return (lazy + "\n".join(lines) + "\n" + helpers + "\n" + body + "\n" + intake.END + "\n",
            size(lazy))


def render_chain(scripts: Sequence[tuple[str, Mapping[str, str], str, str]], end_token: str
                 ) -> str:
    """The full program of a chain for `bash -s` (`chain`)."""
    return chain(scripts, end_token).text()


def chain(scripts: Sequence[tuple[str, Mapping[str, str], str, str]], end_token: str
          ) -> intake.Program:
    """One program that runs several scripts in turn, each (name, parameters,
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
    lines = [intake.RESTORE, "exec 2>&1", *common, *helpers]
    # The scripts' code runs where it stands, in the one `eval` of the program: a cut of
    # each script from the program costs bash a copy of all of it and two locale switches,
    # some 1 M instructions a script. Only their packed families (base64: a character a
    # byte) stay apart, at the start, never parsed unless called (DV_BASE: where a script's
    # own start).
    offset = 0
    for i, ((text, lazy), marker) in enumerate(parts):
        code = text[lazy:].removesuffix(intake.END + "\n")
        head = f"export DEVOPNESS_STEP={marker}; DV_BASE={offset}"
        offset += lazy
        if i == len(parts) - 1:
            lines += [head, code.rstrip("\n")]
            break
        lines.append(f"({head}\n{code}); dv__status=$?")
        lines.append(f"printf '\\n%s %s %s\\n' {shlex.quote(STEP_END)} {shlex.quote(end_token)} "
                     '"$dv__status"')
        lines.append('[ "$dv__status" = 0 ] || exit "$dv__status"')
    # The packed families, each script's from its DV_BASE, then what runs.
    packed = "".join(text[:lazy] for (text, lazy), _ in parts)
    return intake.Program(packed, "\n".join(lines) + "\n" + intake.END + "\n")
