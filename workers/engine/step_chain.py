"""Built-in scripts in a row run in one SSH session (`run_chain`): a session of their own
costs the server a process tree and the engine a channel."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Callable

import asyncssh

from app.actions import builtins
from app.actions.metrics import STEPS_RUNNING
from app.actions.models import FINISHED
from app.actions.targets import ServerAccess
from workers.engine import intake, scripts
from workers.engine.logs import Redactor, StepLog
from workers.engine.outcomes import record_outcome, start_step
from workers.engine.plans import TargetPlan
from workers.engine.remote_process import script_session, step_marker
from workers.engine.run import ActionRun, StepFailed, StepSpec
from workers.engine.step_runners import (
    cut_short,
    failure_of,
    nothing_to_do,
    results_of,
    run_bounded,
    run_step,
)


def chain_from(steps: list[StepSpec], start: int, access: ServerAccess, plan: TargetPlan
               ) -> list[StepSpec]:
    """The steps from `steps[start]` on that can run in one SSH session (`run_chain`):
    built-in scripts run as the SSH user, and between them steps with nothing to do
    (they open no session anyway). Empty when fewer than two have work on the server. A
    session of its own for each costs the server a process tree and the engine a
    channel: about 2.8 ms of the servers' CPU a target for a deploy's fetch and
    activate (50 targets over a loopback sshd)."""
    if plan.context is None or plan.context_error is not None or plan.request is None:
        return []
    env = plan.context.env
    chain: list[StepSpec] = []
    scripted = 0
    for step in steps[start:]:
        if step.status in FINISHED or step.builtin is None or step.builtin[0] != "script":
            break
        if nothing_to_do(env, step.builtin[1]) is not None:
            if not chain:
                break
            chain.append(step)
            continue
        if (step.run_as_user and step.run_as_user != access.username) or not scripts.exists(
                step.builtin[1]):
            break
        chain.append(step)
        scripted += 1
    while chain and nothing_to_do(env, _name(chain[-1])) is not None:
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
) -> None:
    """Run `chain` (`chain_from`; its first step started already) in one session, each
    step with its own log, results, timeout and outcome, as `run_step` runs it alone; the
    steps with nothing to do between are recorded as they come. `started` hears of each
    step started; raises StepFailed as `run_step` does."""
    assert plan.context is not None and plan.request is not None
    env = plan.context.env
    scripted = [s for s in chain if nothing_to_do(env, _name(s)) is None]
    scanners = [builtins.ResultScanner() for _ in scripted]
    end_token = secrets.token_hex(16)
    program = scripts.chain(
        [(_name(s), env, scanner.token, step_marker(s)) for s, scanner in zip(
            scripted, scanners, strict=True)], end_token)
    redactors = []
    for step, scanner in zip(scripted, scanners, strict=True):
        scanner.expect(scripts.result_keys(_name(step)))
        redactor = Redactor(plan.secrets())
        redactor.remove(scanner.prefix, builtins.RESULT_MARKER)
        redactors.append(redactor)
    logs = [StepLog(run.state, s.id, r) for s, r in zip(scripted, redactors, strict=True)]
    loop = asyncio.get_running_loop()
    # Each script's exit status and the signal that ended it (the last one's: the session's).
    ended: list[asyncio.Future[tuple[int | None, str | None]]] = [
        loop.create_future() for _ in scripted]
    # Set once step i is recorded as started: its output is logged from then on.
    resumed = [asyncio.Event() for _ in scripted]
    resumed[0].set()
    end_line = f"\n{intake.STEP_END} {end_token} "
    with STEPS_RUNNING.track_inprogress():
        command, stdin = script_session(scripted, access, program)
        process = await conn.create_process(
            command, stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace")
        process.stdin.write(stdin)
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
                    failure = await run_bounded(run, ended[i], step)
                    exit_code: int | None = None
                    if failure is not None:
                        await cut_short(conn, access, step, process, pumping, log, failure)
                    else:
                        exit_code, signal_name = ended[i].result()
                        failure = failure_of(exit_code, signal_name)
                    await record_outcome(log, step, failure, exit_code)
                await results_of(run, plan, step, scanners[i])
                if failure:
                    raise StepFailed(failure)
            await pumping
        finally:
            if not pumping.done():
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pumping
            process.close()
