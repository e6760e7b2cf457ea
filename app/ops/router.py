"""Health, readiness and metrics for operators (beyond the Devopness reference)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from app.actions.metrics import QUEUE_DEPTH
from app.core.errors import Unauthenticated
from app.core.security import constant_time_equals
from app.ops.service import ReadinessProbe, queued_actions

router = APIRouter(tags=["Extensions - Operations"])


@router.get("/healthz", operation_id="getHealthz", summary="Process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="getReadyz",
    summary="Ready to serve: database migrated, Redis (the broker) and a worker reachable "
    "when configured; details with the metrics token",
    responses={503: {"description": "A dependency is down; `checks` says which"}},
)
async def readyz(request: Request) -> JSONResponse:
    probe: ReadinessProbe = request.app.state.readiness
    result = await probe.check()
    # Up/down for anyone (load balancers); the why (exception text, host names) only for
    # the operator's metrics token, and in the logs.
    detailed = _has_metrics_token(request)
    body = {
        "status": "ready" if result.ok else "not ready",
        "checks": {
            name: check.as_dict() if detailed else {"ok": check.ok}
            for name, check in result.checks.items()
        },
    }
    return JSONResponse(body, status_code=200 if result.ok else 503)


def _has_metrics_token(request: Request) -> bool:
    expected = request.app.state.settings.metrics_token
    if not expected:
        return False
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and constant_time_equals(token.strip(), expected)


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    if request.app.state.settings.metrics_token and not _has_metrics_token(request):
        raise Unauthenticated("A valid metrics bearer token is required.")
    QUEUE_DEPTH.set(await queued_actions(request.app.state.database))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several uvicorn workers: aggregate what every process wrote to the shared folder.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
