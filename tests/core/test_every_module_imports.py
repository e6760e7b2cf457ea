"""Every module of the product imports: mypy runs with `ignore_missing_imports` (third-party
stubs), so it does not catch an import of one of our modules that was moved or renamed."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import app
import launcher
import workers


def _modules() -> list[str]:
    names = []
    for package in (app, workers, launcher):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith(".__main__"):  # runs the CLI
                names.append(module.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_module_imports(name: str) -> None:
    importlib.import_module(name)
