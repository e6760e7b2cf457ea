"""A worker's Prometheus endpoint: the engine's metrics from every pool process.

Celery runs tasks in forked pool processes, so each writes its metrics to a shared folder
(PROMETHEUS_MULTIPROC_DIR, made here when unset) and the main process serves the sum.
"""

from __future__ import annotations

import os
import sys
import tempfile


def serve_worker_metrics(port: int, host: str = "0.0.0.0") -> None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        if "prometheus_client" in sys.modules:
            # The client picks its storage when first imported; too late to share it.
            raise RuntimeError("set PROMETHEUS_MULTIPROC_DIR before starting the worker")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="devopness-metrics-")
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)
