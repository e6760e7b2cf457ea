"""Blocking file checks for async tests (tiny local files: not worth a thread)."""

from __future__ import annotations

import os


def exists(path: str) -> bool:
    return os.path.exists(path)


def touch(path: str) -> None:
    with open(path, "w"):
        pass
