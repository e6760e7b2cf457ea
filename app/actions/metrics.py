"""Prometheus metrics of actions, shared by the API (starts) and the engine (runs).

With several processes on one machine, PROMETHEUS_MULTIPROC_DIR aggregates them (the
gauge sums the live processes' values).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ACTIONS_STARTED = Counter(
    "devopness_actions_started_total",
    "Actions created, by resource type and operation.",
    ["resource_type", "operation"],
)
ACTIONS_FINISHED = Counter(
    "devopness_actions_finished_total",
    "Actions that reached a final status, by resource type, operation and status.",
    ["resource_type", "operation", "status"],
)
ACTION_DURATION = Histogram(
    "devopness_action_duration_seconds",
    "From start of execution to final status, by resource type and operation.",
    ["resource_type", "operation"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
STEPS_RUNNING = Gauge(
    "devopness_steps_running",
    "Steps executing right now.",
    multiprocess_mode="livesum",
)
SSH_CONNECTION_ERRORS = Counter(
    "devopness_ssh_connection_errors_total",
    "SSH connections that failed, by kind (timeout, host_key, refused_or_other).",
    ["kind"],
)
LOG_BYTES = Counter("devopness_log_bytes_total", "Step output stored, in characters.")
QUEUE_DEPTH = Gauge(
    "devopness_actions_queued",
    "Actions not yet running (pending, queued or waiting), read at scrape time.",
    multiprocess_mode="liveall",
)
