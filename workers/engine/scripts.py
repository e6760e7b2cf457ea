"""Renders built-in shell scripts (`workers/scripts/<name>.sh`) for one run.

The rendered text is sent on the SSH session's stdin to `bash -s`: `set -euo pipefail`, the
parameters as exported shell variables (quoted, so any value is data, never code), the
shared helpers (`lib.sh`, then `lib/*.sh`), then the script itself.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
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


def render(name: str, env: Mapping[str, str]) -> str:
    """The full program for `bash -s`: parameters, helpers, then the script."""
    body = _read(name)
    lines = ["set -euo pipefail", "umask 022"]
    for key in sorted(env):
        if not _ENV_NAME.match(key):
            continue
        lines.append(f"export {key}={shlex.quote(str(env[key]))}")
    lines.append(f"DEVOPNESS_SCRIPT={shlex.quote(name)}")
    return "\n".join(lines) + "\n" + _helpers() + "\n" + body + "\n"
