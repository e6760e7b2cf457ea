"""Graceful restarts: on SIGTERM (or SIGINT) the API stops accepting connections (the
server does that), and live readers are told to reconnect instead of holding the
process until their action ends. SHUTDOWN_GRACE_SECONDS bounds the rest."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from app.actions.bus import start_draining

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def drain_on_signals(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Chain a handler in front of the server's own (uvicorn installs its handlers before
    the application starts); returns a function that puts the previous ones back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Any] = {}

    def handler(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(start_draining)
        chained = previous.get(sig)
        if callable(chained):
            chained(sig, frame)

    for sig in SIGNALS:
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, old)

    return restore
