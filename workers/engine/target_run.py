"""Running one target: wait for its server's slot, connect, stop leftovers, run its steps
in order, and complete or fail it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncssh

from app.actions.models import FINISHED, ActionStatus, ReasonCode
from app.actions.targets import ServerAccess
from app.core.database import utcnow
from workers.engine.logs import Redactor
from workers.engine.outcomes import fail_target, fail_target_logged, set_target, start_step
from workers.engine.plans import TargetPlan
from workers.engine.remote_process import stop_leftovers
from workers.engine.run import ActionRun, StepFailed, StepSpec
from workers.engine.slots import ahead_limit, session_limit, wait_for_slot
from workers.engine.ssh_session import connect, reload_access
from workers.engine.step_chain import chain_from, run_chain
from workers.engine.step_runners import run_step

logger = logging.getLogger(__name__)


async def run_target(
    run: ActionRun, target_id: int, server_id: int, limit: int, plan: TargetPlan,
    *, claimed: bool = False,
) -> None:
    """`claimed`: the target already holds its server's slot (see `slots.claim_slots`)."""
    access, steps = plan.access, plan.steps
    first = next((s for s in steps if s.status not in FINISHED), None)
    first_open = first.id if first is not None else None
    if not plan.on_server:
        await _run_resource_target(run, target_id, plan, first_open)
        return
    if access is None or plan.load_error is not None:
        reason = (
            f"Server {server_id} cannot be reached: {plan.load_error}"
            if plan.load_error
            else f"Server {server_id} no longer exists."
        )
        await fail_target_logged(run, target_id, steps, reason, None, first_open)
        return
    if not await wait_for_slot(run, target_id, server_id, limit, claimed=claimed):
        await fail_target(run, target_id, steps, run.stop_reason, log_to=None)
        return
    current: StepSpec | None = None
    conn: asyncssh.SSHClientConnection | None = None

    def started(step: StepSpec) -> None:
        nonlocal current
        current = step

    async with contextlib.AsyncExitStack() as held:
        try:
            conn = await _session(run, access, first, held)
            # Running from now on: the time spent queued for one of this worker's SSH
            # sessions is not the target's run time.
            run.state.target(target_id, started_at=utcnow())
            stale_access = False
            for index, step in enumerate(steps):
                if step.status in FINISHED:
                    continue
                if run.stop.is_set():
                    raise StepFailed(run.stop_reason)
                if not step.local and conn is None:
                    if stale_access:
                        # A local step (a cloud instance created) may have given the
                        # server its address: read it again before connecting.
                        access = await reload_access(run, server_id) or access
                    conn = await connect(run, access)
                if conn is not None and plan.leftovers:
                    await stop_leftovers(run, conn, plan)
                if not plan.prepared.is_set():
                    await _prepared(run, plan)
                    if plan.load_error is not None:
                        raise StepFailed(
                            f"Server {server_id} cannot be reached: {plan.load_error}")
                current = step
                await start_step(run, target_id, step)
                # Built-in scripts in a row share a session.
                if conn is not None and (chain := chain_from(steps, index, access, plan)):
                    await run_chain(run, conn, access, chain, plan, target_id, started)
                    continue
                # The secrets of the step's parameters are known once the plan is prepared.
                await run_step(run, conn, access, step, Redactor(plan.secrets()), plan)
                stale_access = stale_access or step.local
        except StepFailed as exc:
            await fail_target_logged(run, target_id, steps, str(exc), current, first_open)
            return
        except Exception as exc:
            logger.exception("target %s failed unexpectedly", target_id)
            await fail_target(run, target_id, steps, f"Unexpected error: {exc}",
                               log_to=current.id if current else first_open)
            return
        finally:
            if conn is not None:
                conn.close()
        now = utcnow()
        await set_target(
            run, target_id,
            status=ActionStatus.COMPLETED,
            status_reason_code=ReasonCode.COMPLETED,
            completed_at=now,
        )


async def _session(
    run: ActionRun, access: ServerAccess, first: StepSpec | None,
    held: contextlib.AsyncExitStack,
) -> asyncssh.SSHClientConnection | None:
    """Take one of the worker's SSH sessions (held until `held` closes). A target that
    has to wait for one, and whose `first` open step runs on its server, connects while it
    waits, within the bound of connections opened ahead: when a session frees, its steps
    start without a handshake (the deploy benchmark at 50 servers spent its last 0.1 s on
    the last targets' connections, one core idle). None: connect once in the session."""
    sessions = session_limit(run.settings)
    if not sessions.locked() or first is None or first.local \
            or run.settings.worker_connections_ahead == 0:
        await held.enter_async_context(sessions)
        return None
    async with ahead_limit(run.settings):
        conn = await connect(run, access)
        try:
            await held.enter_async_context(sessions)
        except BaseException:
            conn.close()
            raise
    if conn.is_closed():
        # Lost while it waited (the server restarted sshd, a firewall dropped it idle).
        conn = await connect(run, access)
    return conn


async def _run_resource_target(
    run: ActionRun, target_id: int, plan: TargetPlan, first_open: int | None
) -> None:
    """Local steps on a target that is not a server (no SSH, no concurrency slot)."""
    now = utcnow()
    run.state.target(target_id, status=ActionStatus.IN_PROGRESS,
                     status_reason_code=ReasonCode.IN_PROGRESS, started_at=now,
                     heartbeat_at=now, updated_at=now)
    current: StepSpec | None = None
    try:
        await _prepared(run, plan)
        if plan.load_error is not None:
            raise StepFailed(plan.load_error)
        for step in plan.steps:
            if step.status in FINISHED:
                continue
            if run.stop.is_set():
                raise StepFailed(run.stop_reason)
            if not step.local:
                raise StepFailed("This step needs a server; this action runs on none.")
            current = step
            await start_step(run, target_id, step)
            await run_step(run, None, None, step, Redactor(plan.secrets()), plan)
    except StepFailed as exc:
        await fail_target_logged(run, target_id, plan.steps, str(exc), current, first_open)
        return
    except Exception as exc:
        logger.exception("target %s failed unexpectedly", target_id)
        await fail_target(run, target_id, plan.steps, f"Unexpected error: {exc}",
                           log_to=current.id if current else first_open)
        return
    await set_target(run, target_id, status=ActionStatus.COMPLETED,
                      status_reason_code=ReasonCode.COMPLETED, completed_at=utcnow())


async def _prepared(run: ActionRun, plan: TargetPlan) -> None:
    """Wait for the target's step parameters, or the action's stop."""
    if plan.prepared.is_set():
        return
    if run.stop.is_set():
        raise StepFailed(run.stop_reason)
    ready = asyncio.ensure_future(plan.prepared.wait())
    stopped = asyncio.ensure_future(run.stop.wait())
    try:
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
        stopped.cancel()
    if not plan.prepared.is_set():
        raise StepFailed(run.stop_reason)
