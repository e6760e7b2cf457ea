"""What each target needs: before it connects, read in one transaction, its steps, its
server's access and what earlier runs left running; while it connects, the parameters of
its built-in steps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select

from app.actions import builtins
from app.actions.models import FINISHED, Action, ActionStep, ActionTarget
from app.actions.targets import ServerAccess, load_accesses
from workers.engine.remote_process import process_record
from workers.engine.run import OPEN, ActionRun, StepSpec, plain_update

logger = logging.getLogger(__name__)


@dataclass
class TargetPlan:
    access: ServerAccess | None
    steps: list[StepSpec]
    request: builtins.RunRequest | None = None
    context: builtins.ScriptContext | None = None
    context_error: str | None = None
    load_error: str | None = None
    # False: the target is the resource itself (a network at its provider), reached by
    # local steps only, never over SSH.
    on_server: bool = True
    # Steps of earlier runs on this server that may still be alive there (their worker
    # died, or could not confirm a stop): (step id, its `remote_process` record).
    leftovers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # Set once `request`, `context` (or the reason they are missing) are known.
    prepared: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def reachable(self) -> bool:
        """A target on a server whose access could be read: it will claim a slot there."""
        return self.on_server and self.access is not None and self.load_error is None

    def secrets(self) -> list[str]:
        found = [*self.access.secrets, self.access.private_key] if self.access else []
        return found + (list(self.context.secrets) if self.context else [])


async def load_plans(run: ActionRun) -> tuple[Sequence[Any], dict[int, TargetPlan]]:
    """The action's open targets (`id`, `server_id`, `max_parallel_actions`,
    `resource_type`) and what they need before they connect, read in one transaction:
    the steps of all targets in one query, the servers' access in one query, the records
    of what each step will start. Built-in step parameters come after (`build_contexts`):
    a target connects meanwhile and waits for them before its first step."""
    plans: dict[int, TargetPlan] = {}
    async with run.database.transaction() as session:
        targets = (
            await session.execute(
                select(ActionTarget.id, ActionTarget.server_id,
                       ActionTarget.max_parallel_actions, ActionTarget.resource_type)
                .where(ActionTarget.action_id == run.action_id, ActionTarget.status.in_(OPEN))
                .order_by(ActionTarget.id)
            )
        ).all()
        rows = (
            await session.execute(
                select(ActionStep.action_target_id, ActionStep.id, ActionStep.order,
                       ActionStep.command, ActionStep.run_as_user, ActionStep.timeout_seconds,
                       ActionStep.status)
                .where(ActionStep.action_id == run.action_id)
                .order_by(ActionStep.action_target_id, ActionStep.order)
            )
        ).all()
        steps: dict[int, list[StepSpec]] = {}
        for row in rows:
            spec = StepSpec(*row[1:])
            spec.builtin = builtins.parse_builtin(spec.command)
            steps.setdefault(row[0], []).append(spec)
        on_servers = [t.server_id for t in targets if t.resource_type == "server"]
        try:
            accesses = await load_accesses(session, on_servers) if on_servers else {}
        except Exception as exc:
            logger.warning("action %s: server access cannot be read", run.action_id,
                           exc_info=True)
            accesses = dict.fromkeys(on_servers, exc)
        for target in targets:
            plan = TargetPlan(None, steps.get(target.id, []))
            plans[target.id] = plan
            plan.on_server = target.resource_type == "server"
            if not any(s.builtin for s in plan.steps if s.status not in FINISHED):
                plan.prepared.set()
            if not plan.on_server:
                continue
            access = accesses.get(target.server_id)
            if isinstance(access, Exception):
                # One server's broken record (a key sealed under another SECRET_KEY...)
                # fails that target with the reason, not the whole action.
                plan.load_error = str(access) or type(access).__name__
                plan.prepared.set()
            else:
                plan.access = access
        await _record_remote_processes(session, run.action_id, targets, plans)
    return targets, plans


async def build_contexts(run: ActionRun, targets: Sequence[Any], plans: dict[int, TargetPlan]
                         ) -> None:
    """The built-in steps' parameters of each target, in one transaction; the targets are
    released together once all are ready (see `executor`). The parts that do not depend
    on the server (the action's row) are read once."""
    waiting = [t for t in targets if not plans[t.id].prepared.is_set()]
    if not waiting:
        return
    ready: set[int] = set()
    try:
        async with run.database.transaction() as session:
            action = (
                await session.execute(
                    select(Action.type, Action.resource_type, Action.resource_id,
                           Action.action_data, Action.retry_of)
                    .where(Action.id == run.action_id)
                )
            ).one()
            for target in waiting:
                plans[target.id].request = builtins.RunRequest(
                    action_id=run.action_id,
                    resource_type=action.resource_type,
                    resource_id=action.resource_id,
                    operation=action.type,
                    server_id=target.server_id,
                    action_data=action.action_data or {},
                    retry_of=action.retry_of,
                )
            # What each target's parameters need, read for all of them at once.
            await builtins.prefetch_contexts(
                session, [r for t in waiting if (r := plans[t.id].request) is not None])
            for target in waiting:
                plan = plans[target.id]
                assert plan.request is not None
                try:
                    plan.context = await builtins.build_context(session, plan.request)
                except builtins.ContextUnavailable as exc:
                    plan.context_error = str(exc)
                except Exception as exc:
                    logger.warning("target %s cannot be prepared", target.id, exc_info=True)
                    plan.load_error = str(exc) or type(exc).__name__
                ready.add(target.id)
    except Exception as exc:
        logger.warning("action %s: step parameters cannot be read", run.action_id,
                       exc_info=True)
        for target in waiting:
            if target.id not in ready:
                plans[target.id].load_error = str(exc) or type(exc).__name__
    finally:
        for target in waiting:
            plans[target.id].prepared.set()


def left_running(action_id: int, server_ids: list[int]) -> Select[Any]:
    """Steps of other actions on these servers that may have left processes there (the
    partial index ix_action_steps_left_running keeps this off the steps' history)."""
    return (
        select(ActionTarget.server_id, ActionStep.id, ActionStep.remote_process)
        .join(ActionTarget, ActionTarget.id == ActionStep.action_target_id)
        .where(ActionTarget.server_id.in_(server_ids),
               ActionStep.remote_process.is_not(None),
               ActionStep.action_id != action_id,
               ActionStep.status.in_(list(FINISHED)))
        .order_by(ActionStep.id)
    )


async def _record_remote_processes(
    session: Any, action_id: int, targets: Sequence[Any], plans: dict[int, TargetPlan]
) -> None:
    """Before any step starts: store how to find and stop each one on its server, so that
    any worker can stop it if this one dies; read what earlier runs may have left alive."""
    records = [
        {"id": step.id, "remote_process": process_record(step, plan.access)}
        for plan in plans.values() if plan.on_server and plan.access is not None
        for step in plan.steps
        if step.status not in FINISHED and not step.local
    ]
    if records:
        await session.execute(plain_update(ActionStep), records)
    servers = {t.server_id: t.id for t in targets if plans[t.id].on_server}
    if not servers:
        return
    left = await session.execute(left_running(action_id, list(servers)))
    for row in left:
        plans[servers[row.server_id]].leftovers.append((row.id, row.remote_process))
