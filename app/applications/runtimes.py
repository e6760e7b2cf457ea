"""Where an application's language runtime lives on a server.

Every engine version the options offer is installed for the deploy user under
`$HOME/.devopness/runtimes/<language>/<version>/`, side by side with other versions, and
its executables are reachable in `<that directory>/bin`. The deploy's runtime step
installs it (`workers/scripts/application/runtime.sh`); the build step, daemons and cron
jobs of the application put `bin_directory()` first on `PATH`.
"""

from __future__ import annotations

# Languages whose applications need no runtime of their own.
NO_RUNTIME = frozenset({"html", "docker"})
RUNTIMES_DIR = ".devopness/runtimes"


def bin_directory(language: str, engine_version: str) -> str | None:
    """The runtime's `bin` directory relative to the deploy user's home, or None when the
    language needs no runtime."""
    if language in NO_RUNTIME or not engine_version or engine_version == "none":
        return None
    return f"{RUNTIMES_DIR}/{language}/{engine_version}/bin"
