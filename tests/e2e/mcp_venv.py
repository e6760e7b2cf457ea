"""The official Devopness MCP server, installed in a virtual environment of its own.

`devopness-mcp-server` needs Python >= 3.12 while the project runs on 3.11, so it cannot share
the test environment: it gets a venv in a cache directory (never in the repository), made
once per pinned set and reused. `.ci/run` calls `python -m tests.e2e.mcp_venv` before the
tests; the test fixture calls `ensure()` itself, so a developer's first run installs it too.

The pins: 0.0.41 is the release the tests were written against, and it hands its token to
the SDK by setting a class attribute that `devopness` 2.8+ no longer reads (a client bug),
so the SDK stays below 2.8 beside it.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

PINS = ("devopness-mcp-server==0.0.41", "devopness<2.8")
MIN_PYTHON = (3, 12)


def venv_dir() -> Path:
    explicit = os.environ.get("DEVOPNESS_MCP_VENV")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    # A new pin set gets a new directory, so an old install is never half-upgraded.
    digest = hashlib.sha256("\n".join(PINS).encode()).hexdigest()[:12]
    return cache / "devopness-server" / f"mcp-venv-{digest}"


def _is_new_enough(python: str) -> bool:
    try:
        ran = subprocess.run(
            [python, "-c", f"import sys, venv; print(sys.version_info >= {MIN_PYTHON})"],
            capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return ran.returncode == 0 and ran.stdout.strip() == "True"


def _candidates() -> list[str]:
    found: list[str] = []
    explicit = os.environ.get("DEVOPNESS_MCP_PYTHON")
    if explicit:
        found.append(explicit)
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    # pyenv's shims answer "command not found" for versions that are not selected, so the
    # installed versions are looked up directly (newest first).
    for version in sorted(glob.glob(f"{pyenv_root}/versions/3.*/bin/python3"), reverse=True):
        found.append(version)
    for name in ("python3.14", "python3.13", "python3.12", "python3"):
        path = shutil.which(name)
        if path:
            found.append(path)
    return found


def find_python() -> str | None:
    """A Python >= 3.12 with the venv module, or None."""
    for python in _candidates():
        if _is_new_enough(python):
            return python
    return None


def python_in(venv: Path) -> Path:
    return venv / "bin" / "python"


def server_command(venv: Path) -> Path:
    return venv / "bin" / "devopness-mcp-server"


def _installed(venv: Path) -> bool:
    marker = venv / "devopness-pins.txt"
    return (
        marker.is_file()
        and marker.read_text() == "\n".join(PINS)
        and server_command(venv).is_file()
    )


def ensure() -> tuple[Path | None, str]:
    """The venv (installing it when missing), or None and the reason it cannot exist."""
    venv = venv_dir()
    if _installed(venv):
        return venv, "installed"
    python = find_python()
    if python is None:
        return None, (
            "devopness-mcp-server needs Python >= {}.{} and none was found (looked in "
            "DEVOPNESS_MCP_PYTHON, pyenv's versions and PATH)".format(*MIN_PYTHON)
        )
    venv.parent.mkdir(parents=True, exist_ok=True)
    # Several worktrees or test sessions may start at once: one installs, the others wait.
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(venv):
            return venv, "installed"
        # Built in place (its scripts carry the venv's absolute path); the marker written
        # last tells a finished install from an interrupted one.
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python_in(venv)), "-m", "pip", "install", "-q",
             "--disable-pip-version-check", *PINS],
            check=True,
        )
        (venv / "devopness-pins.txt").write_text("\n".join(PINS))
    return venv, "installed now"


def main() -> int:
    venv, reason = ensure()
    if venv is None:
        print(f"mcp venv: {reason}", file=sys.stderr)
        return 3
    print(f"mcp venv: {venv} ({reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
