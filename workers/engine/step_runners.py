"""Running one step: a shell command or built-in script streamed over SSH, or a Python
built-in step; each bounded by its timeout and the action's stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import asyncssh

from app.actions import builtins
from app.actions.metrics import STEPS_RUNNING
from app.actions.models import ActionStatus
from app.actions.targets import ServerAccess
from workers.engine import scripts
from workers.engine.logs import Redactor, StepLog
from workers.engine.outcomes import record_outcome
from workers.engine.plans import TargetPlan
from workers.engine.remote_process import as_user, kill_step, script_session, wrap
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
        redactor.remove(scanner.prefix, builtins.RESULT_MARKER)
        try:
            if kind == "script" and (why := nothing_to_do(plan.context.env, name)):
                async with StepLog(run.state, step.id, redactor) as log:
                    await log.write(why + "\n")
                    await record_outcome(log, step, None, 0)
            elif kind == "script":
                assert conn is not None and access is not None
                try:
                    program = scripts.program(name, plan.context.env, scanner.token)
                    scanner.expect(scripts.result_keys(name))
                except scripts.UnknownScript as exc:
                    raise StepFailed(str(exc)) from exc
                command, stdin = script_session([step], access, program)
                await _stream_step(run, conn, access, step, redactor, command=command,
                                   stdin=stdin, scanner=scanner)
            else:  # "python" (over the connection) or "local" (none)
                await _python_step(run, conn, access, step, redactor, plan, name, scanner)
        finally:
            await results_of(run, plan, step, scanner)


async def results_of(run: ActionRun, plan: TargetPlan, step: StepSpec,
                     scanner: builtins.ResultScanner) -> None:
    """Once a built-in step ended: store what it reported (and a failure's outcome)."""
    assert plan.request is not None
    scanner.close()
    if scanner.results or step.status == ActionStatus.FAILED:
        await _handle_results(run, plan.request, scanner.results,
                              step.status == ActionStatus.COMPLETED)


def nothing_to_do(env: Mapping[str, str], name: str) -> str | None:
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
            program = scripts.program(name, {**self.context.env, **(extra_env or {})},
                                      self.scanner.token)
            self.scanner.expect(scripts.result_keys(name))
        except scripts.UnknownScript as exc:
            raise StepFailed(str(exc)) from exc
        command, stdin = script_session([self.step], self.access, program)
        process = await self.conn.create_process(
            command, stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace",
        )
        process.stdin.write(stdin)
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


async def run_bounded(run: ActionRun, work: asyncio.Future[Any], step: StepSpec) -> str | None:
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
        failure = await run_bounded(run, work, step)
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


def failure_of(status: int | None, signal_name: str | None) -> str | None:
    if signal_name:
        return f"The step was killed by signal {signal_name}."
    return None if status == 0 else f"The step failed with exit code {status}."


async def cut_short(
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
    """`command`: the session's whole command (a built-in script's, `script_session`); by
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
        failure = await run_bounded(run, pumping, step)
        if failure is not None:
            await cut_short(conn, access, step, process, pumping, log, failure)
        else:
            pumping.result()
        exit_code = process.exit_status
        if failure is None:
            failure = failure_of(exit_code, process.exit_signal[0] if process.exit_signal
                                  else None)
        await record_outcome(log, step, failure, exit_code)
    if failure:
        raise StepFailed(failure)
