"""`python -m workers.engine <action_id>`: run one action in the foreground (ops, tests)."""

from __future__ import annotations

import asyncio
import sys

from app.core.database import Database
from app.core.settings import get_settings
from app.wiring import load_plugins, register_all
from workers.engine.executor import run_action


async def _main(action_id: int) -> str | None:
    settings = get_settings()
    register_all(settings)
    load_plugins(settings.engine_plugins)
    database = Database(settings)
    try:
        return await run_action(database, action_id, settings=settings)
    finally:
        await database.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m workers.engine <action_id>")
    print(asyncio.run(_main(int(sys.argv[1]))))
