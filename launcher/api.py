"""The API application as `devopness-server serve` runs it: `app.main.create_app` with the
engine's in-process runner, which executes actions when no broker (REDIS_URL) is set."""

from __future__ import annotations

from fastapi import FastAPI

from app.core.settings import Settings
from app.main import create_app as create_api
from workers.engine.runner import InProcessRunner


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_api(settings, runner_factory=InProcessRunner)
