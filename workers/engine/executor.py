"""Runs one action: its targets concurrently, each target's steps in order over SSH.

State lives in the database and is updated by id in short transactions; no ORM object is
held across an SSH run. The same function runs in a Celery worker and in the API process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import shlex
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncssh
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from app.actions import builtins
from app.actions.bus import SignalBus, action_topic, get_bus
from app.actions.listeners import ActionFinished, notify_finished
from app.actions.metrics import (
    ACTION_DURATION,
    ACTIONS_FINISHED,
    SSH_CONNECTION_ERRORS,
    STEPS_RUNNING,
)
from app.actions.models import (
    FINISHED,
    Action,
    ActionStatus,
    ActionStep,
    ActionTarget,
    Pipeline,
    ReasonCode,
)
from app.actions.service import mark_unstarted_failed
from app.actions.targets import ServerAccess, server_access_provider
from app.core import outbound
from app.core.database import Database, utcnow
from app.core.logging import request_id_var
from app.core.settings import Settings
from workers.engine import scripts
from workers.engine.logs import Redactor, StepLog
from workers.engine.slots import try_claim
from workers.engine.writer import StateWriter

logger = logging.getLogger(__name__)

OPEN = [ActionStatus.PENDING, ActionStatus.QUEUED, ActionStatus.WAITING]
CLAIMABLE = [ActionStatus.PENDING, ActionStatus.QUEUED, ActionStatus.WAITING]
SLOT_POLL_SECONDS = 0.25


def _update(model: Any) -> Any:
    # Engine sessions hold no objects: skip the ORM's synchronisation (an extra SELECT).
    return update(model).execution_options(synchronize_session=False)



def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class StepSpec:
    id: int
    order: int
    command: str
    run_as_user: str | None
    timeout_seconds: int
    status: str
    # ("script" | "python", name) for a built-in step (see app.actions.builtins).
    builtin: tuple[str, str] | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(6))
    # True once a stop of this step could not be confirmed: its `remote_process` record
    # stays, and the next run on the server stops it first.
    left_running: bool = False


@dataclass
class ActionRun:
    database: Database
    settings: Settings
    bus: SignalBus
    action_id: int
    worker_id: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stop_reason: str = ""
    writer: StateWriter | None = None
    # Futures of running steps to wake when the action is stopped (see `_run_bounded`).
    stop_waiters: set[asyncio.Future[None]] = field(default_factory=set)

    @property
    def state(self) -> StateWriter:
        assert self.writer is not None, "the action's state writer is not running"
        return self.writer

    def request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()
            for waiter in list(self.stop_waiters):
                if not waiter.done():
                    waiter.set_result(None)


class StepFailed(Exception):
    pass


# Per-process bound on concurrent SSH sessions, shared by every action this worker runs.
_session_limits: dict[int, asyncio.Semaphore] = {}


def _session_limit(settings: Settings) -> asyncio.Semaphore:
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _session_limits:
        _session_limits[loop_id] = asyncio.Semaphore(settings.worker_max_parallel_targets)
    return _session_limits[loop_id]


async def run_action(
    database: Database,
    action_id: int,
    *,
    settings: Settings | None = None,
    bus: SignalBus | None = None,
    worker_id: str | None = None,
) -> str | None:
    """Execute a pending action to completion; returns its final status (None: not run)."""
    settings = settings or database.settings
    run = ActionRun(
        database=database,
        settings=settings,
        bus=bus or get_bus(),
        action_id=action_id,
        worker_id=worker_id or default_worker_id(),
    )
    request_id = await _request_id(database, action_id)
    token = request_id_var.set(request_id or f"action-{action_id}")
    try:
        return await _run_claimed(run)
    finally:
        request_id_var.reset(token)


async def _request_id(database: Database, action_id: int) -> str | None:
    async with database.transaction() as session:
        triggered = await session.scalar(
            select(Action.triggered_from).where(Action.id == action_id)
        )
    value = (triggered or {}).get("request_id")
    return str(value) if value else None


async def _run_claimed(run: ActionRun) -> str | None:
    database, action_id = run.database, run.action_id
    if not await _claim(run):
        return None
    heartbeat = asyncio.create_task(_heartbeat(run))
    try:
        async with database.transaction() as session:
            targets = (
                await session.execute(
                    select(ActionTarget.id, ActionTarget.server_id,
                           ActionTarget.max_parallel_actions, ActionTarget.resource_type)
                    .where(ActionTarget.action_id == action_id, ActionTarget.status.in_(OPEN))
                    .order_by(ActionTarget.id)
                )
            ).all()
        plans = await _load_plans(run, targets)
        async with StateWriter(
            database, run.bus, tick=run.settings.engine_write_interval_seconds
        ) as writer:
            run.writer = writer
            await asyncio.gather(
                *(_run_target(run, t.id, t.server_id, t.max_parallel_actions, plans[t.id])
                  for t in targets)
            )
    except BaseException:
        logger.exception("action %s crashed in the engine", action_id)
        async with database.transaction() as session:
            await mark_unstarted_failed(session, action_id, "The engine failed unexpectedly.")
        raise
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    return await _finish(run)


async def _claim(run: ActionRun) -> bool:
    """Take the action for this worker; waits while its pipeline runs its maximum."""
    marked_waiting = False
    loop = asyncio.get_running_loop()
    last_beat = loop.time()
    while True:
        # A waiting action is held by this worker: it heartbeats like a running one, so
        # that the sweep re-sends it if this worker dies while it waits.
        beat = loop.time() - last_beat >= run.settings.action_heartbeat_seconds
        claimed, waiting = await _try_claim(run, mark_waiting=not marked_waiting, beat=beat)
        last_beat = loop.time() if beat else last_beat
        marked_waiting = marked_waiting or waiting
        await run.bus.publish(action_topic(run.action_id))
        if claimed or not waiting:
            return claimed
        await asyncio.sleep(SLOT_POLL_SECONDS)


async def _try_claim(
    run: ActionRun, *, mark_waiting: bool, beat: bool = False
) -> tuple[bool, bool]:
    """(claimed, still waiting for a pipeline slot)."""
    now = utcnow()
    async with run.database.transaction() as session:
        pipeline = (
            await session.execute(
                select(Pipeline.id, Pipeline.max_parallel_actions)
                .join(Action, Action.pipeline_id == Pipeline.id)
                .where(Action.id == run.action_id)
            )
        ).first()
        conditions = [
            Action.id == run.action_id,
            Action.status.in_(CLAIMABLE),
            Action.cancel_requested_at.is_(None),
        ]
        if pipeline is not None and pipeline.max_parallel_actions > 0:
            if session.get_bind().dialect.name == "postgresql":
                # Serialises claims on this pipeline across workers (see slots.py).
                await session.execute(
                    select(Pipeline.id).where(Pipeline.id == pipeline.id).with_for_update()
                )
            running = aliased(Action)
            in_use = (
                select(func.count())
                .select_from(running)
                .where(running.pipeline_id == pipeline.id,
                       running.status == ActionStatus.IN_PROGRESS)
                .scalar_subquery()
            )
            conditions.append(in_use < pipeline.max_parallel_actions)
        result = await session.execute(
            _update(Action)
            .where(*conditions)
            .values(
                status=ActionStatus.IN_PROGRESS,
                status_reason_code=ReasonCode.IN_PROGRESS,
                status_message=None,
                worker_id=run.worker_id,
                heartbeat_at=now,
                started_at=now,
                updated_at=now,
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return True, False
        action = await session.get(Action, run.action_id)
        if action is None:
            return False, False
        if action.status in CLAIMABLE and action.cancel_requested_at is None:
            if mark_waiting:
                action.status = ActionStatus.WAITING
                action.status_reason_code = ReasonCode.WAITING_CONCURRENCY_PIPELINE
            if mark_waiting or beat:
                action.worker_id = run.worker_id
                action.heartbeat_at = now
            return False, True
        # Redelivered after its worker died (acks_late): never run steps twice;
        # fail it now if nobody is heartbeating it any more.
        stale = now - timedelta(seconds=run.settings.action_stale_seconds)
        if action.status == ActionStatus.IN_PROGRESS and (
            action.heartbeat_at is None or action.heartbeat_at < stale
        ):
            await mark_unstarted_failed(
                session, run.action_id, "The worker running this action stopped."
            )
        return False, False


async def _heartbeat(run: ActionRun) -> None:
    """Proves this worker is alive; notices cancel requests, the time limit and reaping."""
    interval = min(run.settings.action_heartbeat_seconds, 1.0)
    beat_every = run.settings.action_heartbeat_seconds
    loop = asyncio.get_running_loop()
    last_beat = loop.time()
    while True:
        await asyncio.sleep(interval)
        now = utcnow()
        async with run.database.transaction() as session:
            row = (
                await session.execute(
                    select(Action.status, Action.cancel_requested_at, Action.started_at,
                           Action.time_limit_seconds, Action.worker_id)
                    .where(Action.id == run.action_id)
                )
            ).one()
            if loop.time() - last_beat >= beat_every:
                last_beat = loop.time()
                await session.execute(
                    _update(Action)
                    .where(Action.id == run.action_id, Action.worker_id == run.worker_id)
                    .values(heartbeat_at=now)
                )
                await session.execute(
                    _update(ActionTarget)
                    .where(ActionTarget.action_id == run.action_id,
                           ActionTarget.status == ActionStatus.IN_PROGRESS)
                    .values(heartbeat_at=now)
                )
        limit = row.time_limit_seconds or run.settings.action_time_limit_seconds
        if row.status != ActionStatus.IN_PROGRESS or row.worker_id != run.worker_id:
            run.request_stop("The action was finished by the reaper.")
        elif row.cancel_requested_at is not None:
            run.request_stop("Cancelled by user.")
        elif row.started_at is not None and now - row.started_at > timedelta(seconds=limit):
            run.request_stop(f"The action exceeded its time limit of {limit} seconds.")


async def _set_target(run: ActionRun, target_id: int, **values: Any) -> None:
    run.state.target(target_id, updated_at=utcnow(), **values)


async def _set_step(run: ActionRun, step_id: int, **values: Any) -> None:
    run.state.step(step_id, updated_at=utcnow(), **values)


async def _start_step(run: ActionRun, target_id: int, step: StepSpec) -> None:
    now = utcnow()
    run.state.step(step.id, status=ActionStatus.IN_PROGRESS,
                   status_reason_code=ReasonCode.IN_PROGRESS, started_at=now, updated_at=now)
    run.state.target(target_id, current_step_order=step.order, updated_at=now)


async def _fail_target(
    run: ActionRun, target_id: int, steps: list[StepSpec], message: str, *, log_to: int | None
) -> None:
    """Fail a target: the step that was running (or about to) fails, later ones skip."""
    now = utcnow()
    for step in steps:
        if step.status in FINISHED:
            continue
        if step.id == log_to:
            values: dict[str, Any] = {
                "status": ActionStatus.FAILED,
                "status_reason_code": ReasonCode.FAILED,
                "status_message": message,
                "completed_at": now,
            }
        else:
            values = {
                "status": ActionStatus.SKIPPED,
                "status_reason_code": ReasonCode.SKIPPED,
                "completed_at": now,
            }
        if not step.left_running:
            values["remote_process"] = None
        step.status = values["status"]
        run.state.step(step.id, updated_at=now, **values)
    run.state.target(target_id, status=ActionStatus.FAILED, status_reason_code=ReasonCode.FAILED,
                     status_message=message, completed_at=now, updated_at=now)


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

    def secrets(self) -> list[str]:
        found = [*self.access.secrets, self.access.private_key] if self.access else []
        return found + (list(self.context.secrets) if self.context else [])


async def _load_plans(run: ActionRun, targets: Sequence[Any]) -> dict[int, TargetPlan]:
    """Everything the targets need before they connect, read in one transaction: the
    steps of all targets in one query, each server's access, built-in step parameters."""
    plans: dict[int, TargetPlan] = {}
    async with run.database.transaction() as session:
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
        action = None
        if any(s.builtin for specs in steps.values() for s in specs if s.status not in FINISHED):
            action = (
                await session.execute(
                    select(Action.type, Action.resource_type, Action.resource_id,
                           Action.action_data)
                    .where(Action.id == run.action_id)
                )
            ).one()
        provider = server_access_provider()
        for target in targets:
            plan = TargetPlan(None, steps.get(target.id, []))
            plans[target.id] = plan
            plan.on_server = target.resource_type == "server"
            try:
                if plan.on_server:
                    plan.access = await provider.get_access(session, target.server_id)
                if action is not None and any(
                    s.builtin for s in plan.steps if s.status not in FINISHED
                ):
                    plan.request = builtins.RunRequest(
                        action_id=run.action_id,
                        resource_type=action.resource_type,
                        resource_id=action.resource_id,
                        operation=action.type,
                        server_id=target.server_id,
                        action_data=action.action_data or {},
                    )
                    plan.context = await builtins.build_context(session, plan.request)
            except builtins.ContextUnavailable as exc:
                plan.context_error = str(exc)
            except Exception as exc:
                # One server's broken record (a key sealed under another SECRET_KEY...)
                # fails that target with the reason, not the whole action.
                logger.warning("target %s cannot be prepared", target.id, exc_info=True)
                plan.load_error = str(exc) or type(exc).__name__
        await _record_remote_processes(session, run.action_id, targets, plans)
    return plans


async def _record_remote_processes(
    session: Any, action_id: int, targets: Sequence[Any], plans: dict[int, TargetPlan]
) -> None:
    """Before any step starts: store how to find and stop each one on its server, so that
    any worker can stop it if this one dies; read what earlier runs may have left alive."""
    records = [
        {"id": step.id, "remote_process": _remote_process(step, plan.access)}
        for plan in plans.values() if plan.on_server and plan.access is not None
        for step in plan.steps
        if step.status not in FINISHED and not (step.builtin and step.builtin[0] == "local")
    ]
    if records:
        await session.execute(_update(ActionStep), records)
    servers = {t.server_id: t.id for t in targets if plans[t.id].on_server}
    if not servers:
        return
    left = await session.execute(
        select(ActionTarget.server_id, ActionStep.id, ActionStep.remote_process)
        .join(ActionTarget, ActionTarget.id == ActionStep.action_target_id)
        .where(ActionTarget.server_id.in_(list(servers)),
               ActionStep.remote_process.is_not(None),
               ActionStep.action_id != action_id,
               ActionStep.status.in_(list(FINISHED)))
        .order_by(ActionStep.id)
    )
    for row in left:
        plans[servers[row.server_id]].leftovers.append((row.id, row.remote_process))


def _remote_process(step: StepSpec, access: ServerAccess) -> dict[str, Any]:
    return {"marker": _marker(step), "ssh_user": access.username,
            "run_as_user": step.run_as_user}


async def _wait_for_slot(run: ActionRun, target_id: int, server_id: int, limit: int) -> bool:
    if limit <= 0:
        # No limit on the server: nothing to count across workers (the action's claim
        # already made this worker the only one running its targets).
        now = utcnow()
        run.state.target(target_id, status=ActionStatus.IN_PROGRESS,
                         status_reason_code=ReasonCode.IN_PROGRESS, status_message=None,
                         started_at=now, heartbeat_at=now, updated_at=now)
        return True
    marked_waiting = False
    while not run.stop.is_set():
        async with run.database.transaction() as session:
            if await try_claim(session, target_id, server_id, limit):
                break
        if not marked_waiting:
            marked_waiting = True
            # Straight to the database (not through the writer): the claim that ends the
            # wait is its own transaction and must not be overwritten by this later.
            async with run.database.transaction() as session:
                await session.execute(
                    _update(ActionTarget)
                    .where(ActionTarget.id == target_id,
                           ActionTarget.status != ActionStatus.IN_PROGRESS)
                    .values(status=ActionStatus.WAITING,
                            status_reason_code=ReasonCode.WAITING_CONCURRENCY_TARGET,
                            updated_at=utcnow())
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), SLOT_POLL_SECONDS)
    else:
        return False
    return True


# Parsed once per process: an environment's key serves all of its servers.
@functools.lru_cache(maxsize=256)
def _private_key(text: str) -> asyncssh.SSHKey:
    return asyncssh.import_private_key(text)


@functools.lru_cache(maxsize=1024)
def _public_key(text: str) -> asyncssh.SSHKey:
    return asyncssh.import_public_key(text)


async def _reload_access(run: ActionRun, server_id: int) -> ServerAccess | None:
    async with run.database.transaction() as session:
        return await server_access_provider().get_access(session, server_id)


async def _connect(
    run: ActionRun, access: ServerAccess, *, pin: bool = True
) -> asyncssh.SSHClientConnection:
    if not access.host:
        raise StepFailed(f"Server {access.server_id} has no address yet: it cannot be reached.")
    key = _private_key(access.private_key)
    known_hosts: Any = None
    if access.host_key:
        known_hosts = ([_public_key(access.host_key)], [], [])
    try:
        # The outbound policy: the address checked is the address connected to.
        address = (await outbound.resolve(access.host, access.port, run.settings))[0]
    except outbound.OutboundRefused as exc:
        raise StepFailed(f"Will not connect to {access.host}:{access.port}: {exc}") from exc
    try:
        conn = await asyncio.wait_for(
            asyncssh.connect(
                address,
                access.port,
                username=access.username,
                client_keys=[key],
                known_hosts=known_hosts,
                agent_path=None,
                config=[],
                preferred_auth="publickey",
                encryption_algs=run.settings.ssh_encryption_algs.split(","),
            ),
            run.settings.ssh_connect_timeout_seconds,
        )
    except asyncssh.HostKeyNotVerifiable as exc:
        SSH_CONNECTION_ERRORS.labels("host_key").inc()
        raise StepFailed(
            f"Host key verification failed for {access.host}:{access.port}: the server's "
            "host key changed since it was pinned on the first connection. If the server "
            "was rebuilt, update its host key; otherwise someone may be intercepting the "
            f"connection. ({exc.reason})"
        ) from exc
    except TimeoutError as exc:
        SSH_CONNECTION_ERRORS.labels("timeout").inc()
        raise StepFailed(
            f"Could not connect to {access.host}:{access.port}: timed out after "
            f"{run.settings.ssh_connect_timeout_seconds:g} seconds."
        ) from exc
    except (OSError, asyncssh.Error) as exc:
        SSH_CONNECTION_ERRORS.labels("refused_or_other").inc()
        raise StepFailed(f"Could not connect to {access.host}:{access.port}: {exc}") from exc
    if pin and not access.host_key:
        seen = conn.get_server_host_key()
        if seen is not None:
            pinned = seen.export_public_key("openssh").decode().strip()
            async with run.database.transaction() as session:
                await server_access_provider().pin_host_key(session, access.server_id, pinned)
    return conn


def _marker(step: StepSpec) -> str:
    # Step ids alone are not unique on a server that several control planes (or a rebuilt
    # database) reach: the run's random token keeps one from killing another's process.
    return f"devopness-step-{step.id}-{step.token}"


def _as_user(
    command: str, user: str | None, access: ServerAccess, marker: str | None = None
) -> str:
    if user and user != access.username:
        # sudo resets the environment: carry the marker across so the step's processes
        # run as that user still carry it (and a stop finds them, see _KILL).
        marked = f"env {MARKER_VARIABLE}={marker} " if marker else ""
        return f"sudo -n -H -u {shlex.quote(user)} {marked}/bin/sh -c {shlex.quote(command)}"
    return command


MARKER_VARIABLE = "DEVOPNESS_STEP"


def _wrap(step: StepSpec, access: ServerAccess, command: str | None = None) -> str:
    # The SSH session's shell leads its own process group (sshd calls setsid), and its
    # command line (`sh -c <this>`) carries the step's marker; every process it starts
    # inherits the marker in its environment, even one that leaves the group or is run
    # as another user through sudo. A stop finds them all by it (see _KILL). No pid file:
    # nothing to write, and nothing to remove afterwards. The command runs in that shell
    # itself on lines of its own; the closing `exit` keeps the shell from exec'ing the
    # command in its place (dash and bash do so for a last command), which would take
    # the marker out of the group leader's command line.
    marker = _marker(step)
    command = _as_user(command or step.command, step.run_as_user, access, marker)
    return f": {marker}\nexport {MARKER_VARIABLE}={marker}\n{command}\nexit $?"


# Stops every process of a step: those whose command line or environment carries its
# marker, their descendants and their process groups; TERM, then KILL after 2 s. Exits 0
# once none is left (zombies count as gone), 1 when some could not be stopped (not
# permitted: another user's). The marker is split in this script's own text (`@HEAD@`
# and `@TAIL@`) so that its own shell does not match (grep matches itself, and is gone
# by the time the matches are checked).
_KILL = r"""
m=@HEAD@-''@TAIL@
found=$( { grep -l -a -F -- "$m" /proc/[0-9]*/cmdline; \
  grep -l -a -F -- "@VAR@=$m" /proc/[0-9]*/environ; } 2>/dev/null | cut -d/ -f3 | sort -u)
roots=
for p in $found; do [ "$p" != "$$" ] && [ -d "/proc/$p" ] && roots="$roots $p"; done
[ -n "$roots" ] || exit 0
tree=$(ps -e -o pid= -o ppid= -o pgid= | awk -v roots="$roots" -v self="$$" '
  BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) mark[r[i]] = 1 }
  { pid[NR] = $1; ppid[NR] = $2; pgid[NR] = $3; if ($1 in mark) group[$3] = 1 }
  END {
    do {
      changed = 0
      for (i = 1; i <= NR; i++)
        if (!(pid[i] in mark) && pid[i] != self && (ppid[i] in mark || pgid[i] in group)) {
          mark[pid[i]] = 1; changed = 1
        }
    } while (changed)
    for (p in mark) print p
  }')
alive() {
  for p in $tree; do
    s=$(ps -o stat= -p "$p" 2>/dev/null) || continue
    case $s in Z*) ;; *) return 0 ;; esac
  done
  return 1
}
kill -TERM $tree 2>/dev/null
i=0
while [ $i -lt 20 ]; do alive || exit 0; sleep 0.1; i=$((i + 1)); done
kill -KILL $tree 2>/dev/null
sleep 0.2
alive && exit 1
exit 0
"""


async def _kill_remote(
    conn: asyncssh.SSHClientConnection, marker: str, ssh_user: str | None,
    run_as_user: str | None,
) -> bool:
    """Stop a step's processes with the privilege it was started with; True once none is
    left."""
    head, tail = marker.split("-", 1)
    script = (_KILL.replace("@HEAD@", head).replace("@TAIL@", tail)
              .replace("@VAR@", MARKER_VARIABLE))
    commands = [script]
    if run_as_user and run_as_user != ssh_user:
        # Its processes run as that user: only that user (or root, through the same
        # sudo rule the step used) may signal them. Then the SSH user's own shell.
        commands.insert(
            0, f"sudo -n -u {shlex.quote(run_as_user)} /bin/sh -c {shlex.quote(script)}"
        )
    stopped = False
    for command in commands:
        try:
            result = await asyncio.wait_for(conn.run(command, check=False), 15)
            stopped = result.exit_status == 0
        except (TimeoutError, asyncssh.Error, OSError):
            logger.warning("could not stop remote step %s", marker, exc_info=True)
            stopped = False
    return stopped


async def _kill_step(
    conn: asyncssh.SSHClientConnection, access: ServerAccess | None, step: StepSpec
) -> None:
    stopped = await _kill_remote(
        conn, _marker(step), access.username if access else None, step.run_as_user
    )
    step.left_running = not stopped


async def _stop_leftovers(
    run: ActionRun, conn: asyncssh.SSHClientConnection, plan: TargetPlan
) -> None:
    """No step starts on a server while an earlier run of one may still be alive there."""
    for step_id, record in plan.leftovers:
        stopped = await _kill_remote(
            conn, str(record.get("marker", "")), record.get("ssh_user"),
            record.get("run_as_user"),
        )
        if not stopped:
            raise StepFailed(
                f"An earlier run of step {step_id} may still be running on this server "
                "and could not be stopped; nothing was started, so it does not run twice."
            )
        async with run.database.transaction() as session:
            await session.execute(
                _update(ActionStep).where(ActionStep.id == step_id).values(remote_process=None)
            )
        logger.warning("stopped what step %s left running on its server", step_id)
    plan.leftovers.clear()


async def _run_step(
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
            if kind == "script":
                assert conn is not None and access is not None
                try:
                    program = scripts.render(name, plan.context.env, scanner.token)
                    scanner.expect(scripts.result_keys(name))
                except scripts.UnknownScript as exc:
                    raise StepFailed(str(exc)) from exc
                await _stream_step(run, conn, access, step, redactor,
                                   command="/bin/bash -s", stdin=program, scanner=scanner)
            else:  # "python" (over the connection) or "local" (none)
                await _python_step(run, conn, access, step, redactor, plan, name, scanner)
        finally:
            scanner.close()
            if scanner.results or step.status == ActionStatus.FAILED:
                await _handle_results(run, plan.request, scanner.results,
                                      step.status == ActionStatus.COMPLETED)


async def _handle_results(
    run: ActionRun, request: builtins.RunRequest, results: dict[str, str], succeeded: bool
) -> None:
    try:
        async with run.database.transaction() as session:
            await builtins.handle_results(session, request, dict(results), succeeded)
    except Exception:
        # What the server did is in the log; failing to store a reported value must not
        # change the step's outcome.
        logger.exception("action %s: storing step results failed", run.action_id)


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
            _as_user(command, self.step.run_as_user, self.access),
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
            _wrap(self.step, self.access, "/bin/bash -s"),
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
            conn = await _connect(self.engine_run, other, pin=False)
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


async def _record_outcome(
    log: StepLog, step: StepSpec, failure: str | None, exit_code: int | None
) -> None:
    """The step's terminal log record and status, stored together."""
    await log.flush(
        final=True,
        step_values={
            "exit_code": exit_code,
            "completed_at": utcnow(),
            "status": ActionStatus.FAILED if failure else ActionStatus.COMPLETED,
            "status_reason_code": ReasonCode.FAILED if failure else ReasonCode.COMPLETED,
            "status_message": failure,
            **({} if step.left_running else {"remote_process": None}),
        },
    )
    step.status = ActionStatus.FAILED if failure else ActionStatus.COMPLETED


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
                await _kill_step(conn, access, step)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
        elif (exc := work.exception()) is not None:
            expected = isinstance(exc, StepFailed | builtins.StepError)
            failure = str(exc) if expected else f"Unexpected error: {exc}"
            if not expected:
                logger.error("built-in step %s failed", name, exc_info=exc)
        if failure:
            await log.write(f"\n{failure}\n")
        await _record_outcome(log, step, failure, 1 if failure else 0)
    if failure:
        raise StepFailed(failure)


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
    process = await conn.create_process(
        _wrap(step, access, command), stderr=asyncssh.STDOUT, encoding="utf-8",
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
            await _kill_step(conn, access, step)
            process.close()
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pumping
            await log.write(f"\n{failure}\n")
        else:
            pumping.result()
        exit_code = process.exit_status
        if failure is None and exit_code != 0:
            signal = process.exit_signal[0] if process.exit_signal else None
            failure = (
                f"The step was killed by signal {signal}."
                if signal
                else f"The step failed with exit code {exit_code}."
            )
        await _record_outcome(log, step, failure, exit_code)
    if failure:
        raise StepFailed(failure)


async def _log_message(run: ActionRun, step_id: int, message: str) -> None:
    async with StepLog(run.state, step_id, Redactor(())) as log:
        await log.write(message + "\n")
        await log.flush(final=True)


async def _fail_target_logged(
    run: ActionRun, target_id: int, steps: list[StepSpec], reason: str,
    current: StepSpec | None, first_open: int | None,
) -> None:
    """Fail the target at the step that ran; when none did, at the first open step with
    the reason in its log, where users look."""
    step_id = current.id if current is not None else first_open
    if current is None and step_id is not None:
        await _set_step(run, step_id, started_at=utcnow())
        await _log_message(run, step_id, reason)
    await _fail_target(run, target_id, steps, reason, log_to=step_id)


async def _run_target(
    run: ActionRun, target_id: int, server_id: int, limit: int, plan: TargetPlan
) -> None:
    access, steps = plan.access, plan.steps
    first_open = next((s.id for s in steps if s.status not in FINISHED), None)
    if not plan.on_server:
        await _run_resource_target(run, target_id, plan, first_open)
        return
    if access is None or plan.load_error is not None:
        reason = (
            f"Server {server_id} cannot be reached: {plan.load_error}"
            if plan.load_error
            else f"Server {server_id} no longer exists."
        )
        await _fail_target_logged(run, target_id, steps, reason, None, first_open)
        return
    if not await _wait_for_slot(run, target_id, server_id, limit):
        await _fail_target(run, target_id, steps, run.stop_reason, log_to=None)
        return
    async with _session_limit(run.settings):
        # Running from now on: the time spent queued for one of this worker's SSH sessions
        # is not the target's run time.
        run.state.target(target_id, started_at=utcnow())
        current: StepSpec | None = None
        conn: asyncssh.SSHClientConnection | None = None
        try:
            redactor_secrets = plan.secrets()
            stale_access = False
            for step in steps:
                if step.status in FINISHED:
                    continue
                if run.stop.is_set():
                    raise StepFailed(run.stop_reason)
                local = step.builtin is not None and step.builtin[0] == "local"
                if not local and conn is None:
                    if stale_access:
                        # A local step (a cloud instance created) may have given the
                        # server its address: read it again before connecting.
                        access = await _reload_access(run, server_id) or access
                    conn = await _connect(run, access)
                    await _stop_leftovers(run, conn, plan)
                current = step
                await _start_step(run, target_id, step)
                await _run_step(run, conn, access, step, Redactor(redactor_secrets), plan)
                stale_access = stale_access or local
        except StepFailed as exc:
            await _fail_target_logged(run, target_id, steps, str(exc), current, first_open)
            return
        except Exception as exc:
            logger.exception("target %s failed unexpectedly", target_id)
            await _fail_target(run, target_id, steps, f"Unexpected error: {exc}",
                               log_to=current.id if current else first_open)
            return
        finally:
            if conn is not None:
                conn.close()
        now = utcnow()
        await _set_target(
            run, target_id,
            status=ActionStatus.COMPLETED,
            status_reason_code=ReasonCode.COMPLETED,
            completed_at=now,
        )


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
        if plan.load_error is not None:
            raise StepFailed(plan.load_error)
        for step in plan.steps:
            if step.status in FINISHED:
                continue
            if run.stop.is_set():
                raise StepFailed(run.stop_reason)
            if step.builtin is None or step.builtin[0] != "local":
                raise StepFailed("This step needs a server; this action runs on none.")
            current = step
            await _start_step(run, target_id, step)
            await _run_step(run, None, None, step, Redactor(plan.secrets()), plan)
    except StepFailed as exc:
        await _fail_target_logged(run, target_id, plan.steps, str(exc), current, first_open)
        return
    except Exception as exc:
        logger.exception("target %s failed unexpectedly", target_id)
        await _fail_target(run, target_id, plan.steps, f"Unexpected error: {exc}",
                           log_to=current.id if current else first_open)
        return
    await _set_target(run, target_id, status=ActionStatus.COMPLETED,
                      status_reason_code=ReasonCode.COMPLETED, completed_at=utcnow())


async def _finish(run: ActionRun) -> str:
    now = utcnow()
    async with run.database.transaction() as session:
        rows = (
            await session.execute(
                select(ActionTarget.status, ActionTarget.status_message)
                .where(ActionTarget.action_id == run.action_id)
                .order_by(ActionTarget.id)
            )
        ).all()
        failed = [r for r in rows if r.status == ActionStatus.FAILED]
        status = ActionStatus.FAILED if failed else ActionStatus.COMPLETED
        message = None
        if run.stop.is_set():
            message = run.stop_reason
        elif failed:
            message = (
                f"Failed on {len(failed)} of {len(rows)} target(s): {failed[0].status_message}"
            )
        await session.execute(
            _update(Action)
            .where(Action.id == run.action_id, Action.status == ActionStatus.IN_PROGRESS)
            .values(
                status=status,
                status_reason_code=(
                    ReasonCode.FAILED if status == ActionStatus.FAILED else ReasonCode.COMPLETED
                ),
                status_message=message,
                completed_at=now,
                updated_at=now,
            )
        )
        action = (
            await session.execute(
                select(Action.type, Action.resource_type, Action.resource_id, Action.pipeline_id,
                       Action.started_at)
                .where(Action.id == run.action_id)
            )
        ).one()
    ACTIONS_FINISHED.labels(action.resource_type, action.type, status.value).inc()
    if action.started_at is not None:
        ACTION_DURATION.labels(action.resource_type, action.type).observe(
            max(0.0, (now - action.started_at).total_seconds())
        )
    await run.bus.publish(action_topic(run.action_id))
    await notify_finished(
        run.database,
        run.settings,
        ActionFinished(
            action_id=run.action_id,
            status=status.value,
            action_type=action.type,
            resource_type=action.resource_type,
            resource_id=action.resource_id,
            pipeline_id=action.pipeline_id,
        ),
    )
    return status.value
