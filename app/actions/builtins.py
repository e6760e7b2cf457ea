"""Built-in steps: the work a resource operation does on a server by default.

A default pipeline step's command names a built-in instead of holding shell text:

- `devopness-script <name>`: the shell script `workers/scripts/<name>.sh`, sent over SSH
  on stdin (so parameters and secrets never show in the remote process list), run with
  `workers/scripts/lib.sh` loaded and the resource's parameters exported as
  `DEVOPNESS_*` variables.
- `devopness-step <name>`: a Python coroutine the engine runs with the SSH connection
  (for work a shell cannot do alone: verifying a freshly installed key, say).
- `devopness-local <name>`: a Python coroutine run before any SSH connection (creating or
  powering a cloud instance); the engine reads the server's access again after it.

The parameters come from the domain that owns the resource, at run time (so a retried
action sees today's values): `register_context_builder(resource_type, fn)`. A script
reports values back with `dv_result key value` (a `##devopness-result` line that only
counts with its run's token and a key the script reports, see `ResultScanner`); a Python step
returns or records them; `register_result_handler(resource_type, fn)` stores them (the
deployed commit, a server's OS, its load).

This module is the registry only: it imports neither FastAPI nor the engine.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

SCRIPT = "devopness-script"
PYTHON_STEP = "devopness-step"
LOCAL_STEP = "devopness-local"
RESULT_MARKER = "##devopness-result "
# The step parameter naming the built-in scripts that have nothing to do for a target, one
# a line: `<script name> <why>`. A context builder sets it; the engine completes such a
# step with its reason as the log, without a remote command.
NOOP_SCRIPTS = "DEVOPNESS_NOOP_SCRIPTS"


def script_command(name: str) -> str:
    return f"{SCRIPT} {name}"


def python_step_command(name: str) -> str:
    return f"{PYTHON_STEP} {name}"


def local_step_command(name: str) -> str:
    return f"{LOCAL_STEP} {name}"


def parse_builtin(command: str) -> tuple[str, str] | None:
    """("script" | "python" | "local", name) when the command names a built-in, else
    None. A local step is a Python step that runs in the worker before (or without) an SSH
    connection: creating a cloud instance, powering one on."""
    kind, _, name = command.strip().partition(" ")
    name = name.strip()
    if not name or " " in name:
        return None
    if kind == SCRIPT:
        return "script", name
    if kind == PYTHON_STEP:
        return "python", name
    if kind == LOCAL_STEP:
        return "local", name
    return None


class StepError(Exception):
    """Raised by a Python built-in step: the step fails with this message."""


class ContextUnavailable(Exception):
    """A context builder cannot give parameters (the resource is gone, a credential cannot
    be opened): the step fails with this message."""


@dataclass(frozen=True)
class RunRequest:
    """Which operation a built-in step serves, on which server."""

    action_id: int
    resource_type: str
    resource_id: int
    operation: str
    server_id: int
    action_data: Mapping[str, Any] = field(default_factory=dict)
    # The action this one retries: its scripts may have been lost half-way through.
    retry_of: int | None = None


@dataclass
class ScriptContext:
    """Parameters of a built-in step. `env` names are exported as given (use `DEVOPNESS_`
    prefixes); `secrets` are values redacted from the step's log wherever they appear."""

    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    # For Python steps only: never exported to scripts, always redacted.
    private: dict[str, str] = field(default_factory=dict)

    def merge(self, other: ScriptContext) -> None:
        self.env.update(other.env)
        self.secrets.extend(other.secrets)
        self.private.update(other.private)
        self.secrets.extend(other.private.values())


class StepRuntime(Protocol):
    """What a Python built-in step gets from the engine."""

    request: RunRequest
    context: ScriptContext

    async def run(self, command: str, *, stdin: str | None = None) -> tuple[int, str]:
        """Run a command on the target over the step's connection; (exit code, output)."""
        ...

    async def run_script(self, name: str, extra_env: Mapping[str, str] | None = None) -> int:
        """Run a built-in shell script, its output going to the step's log; exit code."""
        ...

    async def log(self, text: str) -> None: ...

    async def record(self, results: Mapping[str, str]) -> None:
        """Hand results to the resource's result handler now, in their own transaction
        (before a later part of the step could fail)."""
        ...

    async def try_login(self, private_key: str) -> str | None:
        """Open a second SSH connection with another key; None on success, else why not."""
        ...

    async def reload_context(self) -> ScriptContext:
        """Build the step's context again from what is stored now (another action may have
        changed the resource since the step started) and use it from here on."""
        ...


ContextBuilder = Callable[[AsyncSession, RunRequest], Awaitable[ScriptContext]]
ContextPrefetch = Callable[[AsyncSession, Sequence[RunRequest]], Awaitable[None]]
ResultHandler = Callable[[AsyncSession, RunRequest, dict[str, str], bool], Awaitable[None]]
PythonStep = Callable[[StepRuntime], Awaitable[None]]

_contexts: dict[str, ContextBuilder] = {}
_prefetches: dict[str, ContextPrefetch] = {}
_results: dict[str, ResultHandler] = {}
_results_per_action: set[str] = set()
_python_steps: dict[str, PythonStep] = {}


def register_context_builder(resource_type: str, builder: ContextBuilder) -> None:
    _contexts[resource_type] = builder


def register_context_prefetch(resource_type: str, prefetch: ContextPrefetch) -> None:
    """`prefetch` reads, for many requests at once, what the builder of `resource_type`
    would read for each (a deploy to 50 servers: one query for the 50 servers' rows, not
    50), and leaves it in `prefetched(session, ...)`, where the builder looks first."""
    _prefetches[resource_type] = prefetch


def prefetched(session: AsyncSession, name: str) -> dict[Any, Any]:
    """What a prefetch left for the builders in this session (a transaction of its own:
    nothing read here outlives it), under `name`."""
    memo: dict[Any, Any] = session.info.setdefault(f"prefetched:{name}", {})
    return memo


async def prefetch_contexts(session: AsyncSession, requests: Sequence[RunRequest]) -> None:
    """Before `build_context` for each of `requests` in this session: read what they
    need in one pass per kind. The server's part is read for every request on a server."""
    on_servers = [r for r in requests if r.server_id]
    if on_servers and "server" in _prefetches:
        await _prefetches["server"](session, on_servers)
    kinds: dict[str, list[RunRequest]] = {}
    for request in requests:
        if request.resource_type != "server":
            kinds.setdefault(request.resource_type, []).append(request)
    for kind, group in kinds.items():
        if kind in _prefetches:
            await _prefetches[kind](session, group)


# Built-in steps whose work a later step's failure undoes (`undone_by_failure`).
_undone_by_failure: set[str] = set()


def register_undone_by_failure(command: str) -> None:
    """A later step's failure undoes what this built-in step (`script_command(...)`) did
    on the server (a deploy whose build fails removes the release its fetch made): a retry
    runs it again, and every step after it, even where it completed."""
    _undone_by_failure.add(command.strip())


def skipped_on_retry(steps: Sequence[tuple[str, bool]]) -> list[bool]:
    """For a failed target's steps, (command, completed) in order: which a retry skips.
    Those that completed, except from the first whose work a later failure undid."""
    undone = False
    skipped = []
    for command, completed in steps:
        undone = undone or (completed and command.strip() in _undone_by_failure)
        skipped.append(completed and not undone)
    return skipped


def register_result_handler(resource_type: str, handler: ResultHandler, *,
                            per_action: bool = False) -> None:
    """`per_action`: what the handler stores depends on the action and the values
    reported, not on which server reported them (a deploy's commit and release: every
    target reports the same). The engine then stores the same values once per action."""
    _results[resource_type] = handler
    if per_action:
        _results_per_action.add(resource_type)
    else:
        _results_per_action.discard(resource_type)


def results_per_action(resource_type: str) -> bool:
    return resource_type in _results_per_action


def register_python_step(name: str, step: PythonStep) -> None:
    _python_steps[name] = step


def python_step(name: str) -> PythonStep | None:
    return _python_steps.get(name)


async def build_context(session: AsyncSession, request: RunRequest) -> ScriptContext:
    builder = _contexts.get(request.resource_type)
    context = ScriptContext(
        env={
            "DEVOPNESS_ACTION_ID": str(request.action_id),
            "DEVOPNESS_OPERATION": request.operation,
            "DEVOPNESS_RESOURCE_TYPE": request.resource_type,
            "DEVOPNESS_RESOURCE_ID": str(request.resource_id),
            "DEVOPNESS_SERVER_ID": str(request.server_id),
        }
    )
    if request.retry_of is not None:
        context.env["DEVOPNESS_RETRY_OF"] = str(request.retry_of)
    server_builder = _contexts.get("server")
    if server_builder is not None and request.resource_type != "server" and request.server_id:
        # Every script learns about the machine it runs on (its paths, its variables).
        context.merge(await server_builder(session, request))
    if builder is not None:
        try:
            context.merge(await builder(session, request))
        except ContextUnavailable:
            # A removal runs after its resource was deleted: it carries the parameters
            # captured at deletion (see `snapshot_env`).
            saved = request.action_data.get("env")
            if not isinstance(saved, dict):
                raise
            context.env.update({str(k): str(v) for k, v in saved.items()})
    return context


async def snapshot_env(
    session: AsyncSession, resource_type: str, resource_id: int, operation: str
) -> dict[str, str]:
    """The resource's script parameters now, without secrets, for an action that runs
    once the resource is gone (removal on delete). Builders must not depend on the server
    for the resource's own parameters."""
    builder = _contexts.get(resource_type)
    if builder is None:
        return {}
    context = await builder(
        session, RunRequest(0, resource_type, resource_id, operation, server_id=0)
    )
    secrets = set(context.secrets)
    return {k: v for k, v in context.env.items() if v not in secrets}



async def handle_results(
    session: AsyncSession, request: RunRequest, results: dict[str, str], succeeded: bool
) -> None:
    handler = _results.get(request.resource_type)
    if handler is not None:
        await handler(session, request, results, succeeded)


class ResultScanner:
    """Collects `##devopness-result <token> key=value` lines from streamed output.

    A built-in script's output also carries what it runs (a build command, a daemon's log,
    a program's error message), and any of those can print a result line. So a line
    counts only when it carries this run's `token` (a secret the script holds in an
    unexported shell variable: what the script starts never sees it) and names a key the
    running script reports (`expect`)."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        # What starts this run's result lines.
        self.prefix = f"{RESULT_MARKER}{self.token} "
        self.keys: set[str] = set()
        self.results: dict[str, str] = {}
        self._partial = ""

    def expect(self, keys: Iterable[str]) -> None:
        self.keys.update(keys)

    def feed(self, text: str) -> None:
        text = self._partial + text
        lines = text.split("\n")
        self._partial = lines.pop()
        if len(self._partial) > 65536:  # a line that long is never a result line
            self._partial = ""
        for line in lines:
            self._take(line)

    def close(self) -> None:
        self._take(self._partial)
        self._partial = ""

    def _take(self, line: str) -> None:
        line = line.rstrip("\r")
        if line.startswith(self.prefix):
            key, sep, value = line[len(self.prefix):].partition("=")
            if sep and key in self.keys:
                self.results[key] = value
