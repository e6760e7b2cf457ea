"""Running one step: a shell command or built-in script streamed over SSH, or a Python
built-in step; each bounded by its timeout and the action's stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Callable, Mapping
from typing import Any

import asyncssh

from app.actions import builtins
from app.actions.metrics import STEPS_RUNNING
from app.actions.models import FINISHED, ActionStatus
from app.actions.targets import ServerAccess
from workers.engine import scripts
from workers.engine.logs import Redactor, StepLog
from workers.engine.outcomes import record_outcome, start_step
from workers.engine.plans import TargetPlan
from workers.engine.remote_process import (
    as_user,
    kill_step,
    step_marker,
    wrap,
    wrap_chain,
    wrap_script,
)
from workers.engine.run import ActionRun, StepFailed, StepSpec
from workers.engine.ssh_session import connect

logger = logging.getLogger(__name__)


async def run_step(
    run: ActionRun,
    conn: asyncssh.SSHClientConnection | None,
    access: ServerAccess | None,
    step: StepSpec,
    redactor: Redactor,
    plan: TargetPlan,
) -> None:
    """Stream one step's output into its log; raise StepFailed when it does not succeed."""
    with STEPS_RUNNING.track_inprogress():
        if step.builtin is None:
            assert conn is not None and access is not None
            await _stream_step(run, conn, access, step, redactor)
            return
        if plan.context_error is not None or plan.request is None or plan.context is None:
            raise StepFailed(plan.context_error or "The step's parameters are unavailable.")
        kind, name = step.builtin
        scanner = builtins.ResultScanner()
        redactor.remove(f"{scanner.token} ")
        try:
            if kind == "script" and (why := _nothing_to_do(plan.context.env, name)):
                async with StepLog(run.state, step.id, redactor) as log:
                    await log.write(why + "\n")
                    await record_outcome(log, step, None, 0)
            elif kind == "script":
                assert conn is not None and access is not None
                try:
                    program = scripts.render(name, plan.context.env, scanner.token)
                    scanner.expect(scripts.result_keys(name))
                except scripts.UnknownScript as exc:
                    raise StepFailed(str(exc)) from exc
                await _stream_step(run, conn, access, step, redactor,
                                   command=wrap_script(step, access), stdin=program,
                                   scanner=scanner)
            else:  # "python" (over the connection) or "local" (none)
                await _python_step(run, conn, access, step, redactor, plan, name, scanner)
        finally:
            scanner.close()
            if scanner.results or step.status == ActionStatus.FAILED:
                await _handle_results(run, plan.request, scanner.results,
                                      step.status == ActionStatus.COMPLETED)


def _nothing_to_do(env: Mapping[str, str], name: str) -> str | None:
    """Why built-in script `name` has nothing to do here (its log line), or None: such a
    step completes without a remote command."""
    for line in env.get(builtins.NOOP_SCRIPTS, "").splitlines():
        script, _, why = line.partition(" ")
        if script == name:
            return why or "Nothing to do."
    return None


async def _handle_results(
    run: ActionRun, request: builtins.RunRequest, results: dict[str, str], succeeded: bool
) -> None:
    stored = None
    if builtins.results_per_action(request.resource_type):
        # Every target of a deploy reports the same commit and release: a transaction per
        # target and step was the largest part of the engine's own work at 50 servers.
        stored = (request.resource_type, request.resource_id, request.operation, succeeded,
                  tuple(sorted(results.items())))
        if stored in run.stored_results:
            return
        # Marked before the write: the targets that report the same meanwhile skip it.
        run.stored_results.add(stored)
    try:
        async with run.database.transaction() as session:
            await builtins.handle_results(session, request, dict(results), succeeded)
    except Exception:
        # What the server did is in the log; failing to store a reported value must not
        # change the step's outcome.
        logger.exception("action %s: storing step results failed", run.action_id)
        run.stored_results.discard(stored)


class _Runtime:
    """`builtins.StepRuntime` for a Python built-in step."""

    def __init__(
        self,
        run: ActionRun,
        conn: asyncssh.SSHClientConnection | None,
        access: ServerAccess | None,
        step: StepSpec,
        log: StepLog,
        plan: TargetPlan,
        scanner: builtins.ResultScanner,
    ) -> None:
        assert plan.request is not None and plan.context is not None
        self.engine_run, self._conn, self._access, self.step = run, conn, access, step
        self.log_writer, self.scanner = log, scanner
        self.request: builtins.RunRequest = plan.request
        self.context: builtins.ScriptContext = plan.context

    @property
    def conn(self) -> asyncssh.SSHClientConnection:
        if self._conn is None:
            raise builtins.StepError("A local step has no SSH connection.")
        return self._conn

    @property
    def access(self) -> ServerAccess:
        if self._access is None:
            raise builtins.StepError("This step runs on no server.")
        return self._access

    async def run(self, command: str, *, stdin: str | None = None) -> tuple[int, str]:
        result = await self.conn.run(
            as_user(command, self.step.run_as_user, self.access),
            input=stdin, check=False, encoding="utf-8", errors="replace",
        )
        output = str(result.stdout or "") + str(result.stderr or "")
        return (result.exit_status if result.exit_status is not None else -1), output

    async def run_script(self, name: str, extra_env: Mapping[str, str] | None = None) -> int:
        try:
            program = scripts.render(name, {**self.context.env, **(extra_env or {})},
                                     self.scanner.token)
            self.scanner.expect(scripts.result_keys(name))
        except scripts.UnknownScript as exc:
            raise StepFailed(str(exc)) from exc
        process = await self.conn.create_process(
            wrap_script(self.step, self.access),
            stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace",
        )
        process.stdin.write(program)
        process.stdin.write_eof()
        while data := await process.stdout.read(65536):
            self.scanner.feed(data)
            await self.log_writer.write(data)
        await process.wait()
        return process.exit_status if process.exit_status is not None else -1

    async def log(self, text: str) -> None:
        await self.log_writer.write(text if text.endswith("\n") else text + "\n")

    async def record(self, results: Mapping[str, str]) -> None:
        async with self.engine_run.database.transaction() as session:
            await builtins.handle_results(session, self.request, dict(results), True)

    async def reload_context(self) -> builtins.ScriptContext:
        async with self.engine_run.database.transaction() as session:
            self.context = await builtins.build_context(session, self.request)
        return self.context

    async def try_login(self, private_key: str) -> str | None:
        other = ServerAccess(**{**self.access.__dict__, "private_key": private_key})
        try:
            conn = await connect(self.engine_run, other, pin=False)
        except StepFailed as exc:
            return str(exc)
        try:
            result = await asyncio.wait_for(conn.run("true", check=False), 30)
            return None if result.exit_status == 0 else "the test command failed"
        except (TimeoutError, asyncssh.Error, OSError) as exc:
            return str(exc) or type(exc).__name__
        finally:
            conn.close()


async def _run_bounded(run: ActionRun, work: asyncio.Future[Any], step: StepSpec) -> str | None:
    """Wait for `work` within the step's timeout; None when it ended, else why it was cut
    short (the action stopped, or the timeout). One future and one timer per step: this
    runs for every step of every target."""
    if run.stop.is_set():
        return run.stop_reason
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(*_: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    work.add_done_callback(wake)
    timer = loop.call_later(step.timeout_seconds, wake)
    run.stop_waiters.add(waiter)
    try:
        await waiter
    finally:
        timer.cancel()
        run.stop_waiters.discard(waiter)
        work.remove_done_callback(wake)
    if work.done():
        return None
    return (
        run.stop_reason
        if run.stop.is_set()
        else f"The step timed out after {step.timeout_seconds} seconds."
    )


async def _python_step(
    run: ActionRun,
    conn: asyncssh.SSHClientConnection | None,
    access: ServerAccess | None,
    step: StepSpec,
    redactor: Redactor,
    plan: TargetPlan,
    name: str,
    scanner: builtins.ResultScanner,
) -> None:
    handler = builtins.python_step(name)
    if handler is None:
        raise StepFailed(f"There is no built-in step {name!r}.")
    async with StepLog(run.state, step.id, redactor) as log:
        runtime = _Runtime(run, conn, access, step, log, plan, scanner)
        work: asyncio.Future[Any] = asyncio.ensure_future(handler(runtime))
        failure = await _run_bounded(run, work, step)
        if failure is not None:
            work.cancel()
            if conn is not None:
                await kill_step(conn, access, step)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
        elif (exc := work.exception()) is not None:
            expected = isinstance(exc, StepFailed | builtins.StepError)
            failure = str(exc) if expected else f"Unexpected error: {exc}"
            if not expected:
                logger.error("built-in step %s failed", name, exc_info=exc)
        if failure:
            await log.write(f"\n{failure}\n")
        await record_outcome(log, step, failure, 1 if failure else 0)
    if failure:
        raise StepFailed(failure)


async def _cut_short(
    conn: asyncssh.SSHClientConnection, access: ServerAccess, step: StepSpec,
    process: asyncssh.SSHClientProcess[str], pumping: asyncio.Future[Any], log: StepLog,
    failure: str,
) -> None:
    """A step stopped or timed out: its processes and its session stopped, the reason at
    the end of its log."""
    await kill_step(conn, access, step)
    process.close()
    pumping.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await pumping
    await log.write(f"\n{failure}\n")


async def _stream_step(
    run: ActionRun,
    conn: asyncssh.SSHClientConnection,
    access: ServerAccess,
    step: StepSpec,
    redactor: Redactor,
    *,
    command: str | None = None,
    stdin: str | None = None,
    scanner: builtins.ResultScanner | None = None,
) -> None:
    """`command`: the session's whole command (a built-in script's, `wrap_script`); by
    default the step's own command, wrapped."""
    process = await conn.create_process(
        command or wrap(step, access), stderr=asyncssh.STDOUT, encoding="utf-8",
        errors="replace",
    )
    if stdin is not None:
        process.stdin.write(stdin)
    process.stdin.write_eof()
    async with StepLog(run.state, step.id, redactor) as log:

        async def pump() -> None:
            while True:
                data = await process.stdout.read(65536)
                if not data:
                    break
                if scanner is not None:
                    scanner.feed(data)
                await log.write(data)
            await process.wait()

        pumping: asyncio.Future[Any] = asyncio.ensure_future(pump())
        failure = await _run_bounded(run, pumping, step)
        if failure is not None:
            await _cut_short(conn, access, step, process, pumping, log, failure)
        else:
            pumping.result()
        exit_code = process.exit_status
        if failure is None:
            failure = _failure_of(exit_code, process.exit_signal[0] if process.exit_signal
                                  else None)
        await record_outcome(log, step, failure, exit_code)
    if failure:
        raise StepFailed(failure)


# ---- built-in scripts run in turn in one session --------------------------------------


def chain_from(steps: list[StepSpec], start: int, access: ServerAccess, plan: TargetPlan
               ) -> list[StepSpec]:
    """The steps from `steps[start]` on that can run in one SSH session (`run_chain`):
    built-in scripts run as the SSH user, and between them steps with nothing to do
    (they open no session anyway). Empty when fewer than two have work on the server: a
    session of their own costs the server a process tree and the engine a channel (a
    deploy's fetch and activate steps: a fifth of the servers' CPU per deploy, benchmark
    N = 50)."""
    if plan.context is None or plan.context_error is not None or plan.request is None:
        return []
    env = plan.context.env
    chain: list[StepSpec] = []
    scripted = 0
    for step in steps[start:]:
        if step.status in FINISHED or step.builtin is None or step.builtin[0] != "script":
            break
        if _nothing_to_do(env, step.builtin[1]) is not None:
            if not chain:
                break
            chain.append(step)
            continue
        if (step.run_as_user and step.run_as_user != access.username) or not scripts.exists(
                step.builtin[1]):
            break
        chain.append(step)
        scripted += 1
    while chain and _nothing_to_do(env, _name(chain[-1])) is not None:
        chain.pop()
    return chain if scripted >= 2 else []


def _name(step: StepSpec) -> str:
    assert step.builtin is not None
    return step.builtin[1]


def _held_back(text: str, prefix: str) -> int:
    """How many characters at the end of `text` may be the start of `prefix`."""
    for size in range(min(len(prefix) - 1, len(text)), 0, -1):
        if text.endswith(prefix[:size]):
            return size
    return 0


def _failure_of(status: int | None, signal_name: str | None) -> str | None:
    if signal_name:
        return f"The step was killed by signal {signal_name}."
    return None if status == 0 else f"The step failed with exit code {status}."


def _ended(status: str) -> tuple[int | None, str | None]:
    """A chain's script ended with `status` (its `STEP_END` line): its exit status, and
    the signal that ended it (a subshell's status says which, as SSH says the session's)."""
    if not status.isdigit():
        return None, None
    code = int(status)
    if code > 128 and code - 128 in {s.value for s in signal.Signals}:
        return None, signal.Signals(code - 128).name.removeprefix("SIG")
    return code, None


async def run_chain(
    run: ActionRun,
    conn: asyncssh.SSHClientConnection,
    access: ServerAccess,
    chain: list[StepSpec],
    plan: TargetPlan,
    target_id: int,
    started: Callable[[StepSpec], None],
) -> bool:
    """Run `chain` (`chain_from`; its first step started already) in one session, each
    step with its own log, results, timeout and outcome, as `run_step` runs it alone; the
    steps with nothing to do between are recorded as they come. `started` hears of each
    step started. False (nothing done) when the scripts cannot share a session here
    (`scripts.render_chain`); raises StepFailed as `run_step` does."""
    assert plan.context is not None and plan.request is not None
    env = plan.context.env
    scripted = [s for s in chain if _nothing_to_do(env, _name(s)) is None]
    scanners = [builtins.ResultScanner() for _ in scripted]
    end_token = secrets.token_hex(16)
    program = scripts.render_chain(
        [(_name(s), env, scanner.token, step_marker(s)) for s, scanner in zip(
            scripted, scanners, strict=True)], end_token)
    if program is None:
        return False
    redactors = []
    for step, scanner in zip(scripted, scanners, strict=True):
        scanner.expect(scripts.result_keys(_name(step)))
        redactor = Redactor(plan.secrets())
        redactor.remove(f"{scanner.token} ")
        redactors.append(redactor)
    logs = [StepLog(run.state, s.id, r) for s, r in zip(scripted, redactors, strict=True)]
    loop = asyncio.get_running_loop()
    # Each script's exit status and the signal that ended it (the last one's: the session's).
    ended: list[asyncio.Future[tuple[int | None, str | None]]] = [
        loop.create_future() for _ in scripted]
    # Set once step i is recorded as started: its output is logged from then on.
    resumed = [asyncio.Event() for _ in scripted]
    resumed[0].set()
    end_line = f"\n{scripts.STEP_END} {end_token} "
    with STEPS_RUNNING.track_inprogress():
        process = await conn.create_process(
            wrap_chain(scripted), stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace")
        process.stdin.write(program)
        process.stdin.write_eof()

        async def emit(i: int, text: str) -> None:
            if text:
                scanners[i].feed(text)
                await logs[i].write(text)

        async def pump() -> None:
            i, pending = 0, ""
            while data := await process.stdout.read(65536):
                pending += data
                while i < len(scripted) - 1:
                    at = pending.find(end_line)
                    eol = pending.find("\n", at + len(end_line)) if at >= 0 else -1
                    if eol < 0:
                        keep = len(pending) - at if at >= 0 else _held_back(pending, end_line)
                        await emit(i, pending[:len(pending) - keep])
                        pending = pending[len(pending) - keep:]
                        break
                    await emit(i, pending[:at])
                    status = pending[at + len(end_line):eol]
                    pending = pending[eol + 1:]
                    ended[i].set_result(_ended(status))
                    i += 1
                    await resumed[i].wait()
                else:
                    await emit(i, pending)
                    pending = ""
            await emit(i, pending)
            await process.wait()
            if not ended[i].done():
                ended[i].set_result((process.exit_status, process.exit_signal[0]
                                     if process.exit_signal else None))

        def pumped(task: asyncio.Future[None]) -> None:
            # The session is gone (or the pump failed): no step of it ends later.
            for future in ended:
                if not future.done():
                    if task.cancelled() or task.exception() is None:
                        future.set_result((None, None))
                    else:
                        future.set_exception(task.exception())  # type: ignore[arg-type]

        pumping: asyncio.Future[None] = asyncio.ensure_future(pump())
        pumping.add_done_callback(pumped)
        try:
            for i, step in enumerate(scripted):
                if i:
                    at = chain.index(step)
                    for between in chain[chain.index(scripted[i - 1]) + 1:at]:
                        started(between)
                        await start_step(run, target_id, between)
                        await run_step(run, None, None, between, Redactor(plan.secrets()), plan)
                    started(step)
                    await start_step(run, target_id, step)
                    resumed[i].set()
                async with logs[i] as log:
                    failure = await _run_bounded(run, ended[i], step)
                    exit_code: int | None = None
                    if failure is not None:
                        await _cut_short(conn, access, step, process, pumping, log, failure)
                    else:
                        exit_code, signal_name = ended[i].result()
                        failure = _failure_of(exit_code, signal_name)
                    await record_outcome(log, step, failure, exit_code)
                scanners[i].close()
                if scanners[i].results or step.status == ActionStatus.FAILED:
                    await _handle_results(run, plan.request, scanners[i].results,
                                          step.status == ActionStatus.COMPLETED)
                if failure:
                    raise StepFailed(failure)
            await pumping
        finally:
            if not pumping.done():
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pumping
            process.close()
    return True
