"""Networks are created at their provider by actions: AWS here is moto on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.core.settings import Settings


@pytest.fixture(autouse=True)
def _aws_is_moto(moto_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "aws_endpoint_url", moto_url)


@pytest.fixture
def idle(app: Any) -> Callable[[], Awaitable[None]]:
    """Wait until the actions started so far have finished."""

    async def wait() -> None:
        runner = app.state.runner
        if runner is not None:
            await asyncio.wait_for(runner.wait_idle(), 60)

    return wait
