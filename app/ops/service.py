"""Liveness and readiness checks; each is cheap and bounded in time."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy import func, select, text

from app.core.database import Database
from app.core.migrations import alembic_config
from app.core.settings import Settings

logger = logging.getLogger(__name__)

WORKER_HEARTBEAT_PREFIX = "devopness:worker:"
CHECK_TIMEOUT = 2.0
CACHE_SECONDS = 2.0


@dataclass
class CheckResult:
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


@dataclass
class Readiness:
    checks: dict[str, CheckResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())


async def queued_actions(database: Database) -> int:
    """Actions nobody runs yet: the depth of the work queue, whatever the broker."""
    from app.actions.models import Action, ActionStatus

    waiting = [ActionStatus.PENDING, ActionStatus.QUEUED, ActionStatus.WAITING]
    async with database.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(Action).where(Action.status.in_(waiting))
        )
    return int(count or 0)


class ReadinessProbe:
    def __init__(self, settings: Settings, database: Database, redis: Redis | None) -> None:
        self.settings = settings
        self.database = database
        self.redis = redis
        self._heads = set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())
        self._cached: tuple[float, Readiness] | None = None
        self._logged: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def check(self) -> Readiness:
        # Probes hammer this endpoint; a short cache keeps it from loading the database.
        async with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            result = Readiness()
            result.checks["database"] = await self._bounded(self._database())
            if self.redis is not None:
                result.checks["redis"] = await self._bounded(self._redis())
                # Redis is also the broker: actions cannot be handed to workers without it.
                result.checks["broker"] = result.checks["redis"]
                result.checks["worker"] = await self._bounded(self._workers())
            self._log_changes(result)
            self._cached = (time.monotonic(), result)
            return result

    def _log_changes(self, result: Readiness) -> None:
        """Details are logged (not shown to anonymous callers), once per change."""
        for name, check in result.checks.items():
            state, previous = f"{check.ok}:{check.detail}", self._logged.get(name)
            if previous != state:
                self._logged[name] = state
                if not check.ok:
                    logger.warning("readiness check %s failed: %s", name, check.detail)
                elif previous is not None:
                    logger.info("readiness check %s ok again: %s", name, check.detail)

    async def _bounded(self, check: Any) -> CheckResult:
        try:
            result: CheckResult = await asyncio.wait_for(check, CHECK_TIMEOUT)
            return result
        except TimeoutError:
            return CheckResult(False, f"no answer within {CHECK_TIMEOUT:.0f}s")
        except Exception as exc:
            return CheckResult(False, f"{type(exc).__name__}: {exc}".splitlines()[0][:200])

    async def _database(self) -> CheckResult:
        async with self.database.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        current = {r[0] for r in rows}
        if current != self._heads:
            return CheckResult(
                False,
                f"migrations pending: at {sorted(current)}, code expects {sorted(self._heads)};"
                " run `devopness-server migrate`",
            )
        return CheckResult(True, f"reachable, migrations at {', '.join(sorted(current))}")

    async def _redis(self) -> CheckResult:
        assert self.redis is not None
        await self.redis.ping()
        return CheckResult(True, "reachable")

    async def _workers(self) -> CheckResult:
        assert self.redis is not None
        names = [
            key.decode() if isinstance(key, bytes) else str(key)
            async for key in self.redis.scan_iter(match=f"{WORKER_HEARTBEAT_PREFIX}*", count=100)
        ]
        if not names:
            return CheckResult(False, "no worker has sent a heartbeat in the last 30s")
        hosts = sorted(n[len(WORKER_HEARTBEAT_PREFIX) :] for n in names)
        return CheckResult(True, f"{len(hosts)} alive: {', '.join(hosts[:5])}")
