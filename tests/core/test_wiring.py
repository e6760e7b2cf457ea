"""`app.wiring` is the one place the domains are plugged together: a resource family that
is added but not wired there fails here, not at the first request that needs it."""

from __future__ import annotations

import importlib
from pathlib import Path

import app.models  # noqa: F401  (every model mapped)
from app import wiring
from app.core.database import Base
from app.resources_common.models import EnvironmentResource
from app.variables.models import Variable

APP = Path(wiring.__file__).resolve().parent


def test_every_environment_resource_model_is_wired() -> None:
    # A variable belongs to another resource and is never addressed by its own type.
    mapped = {
        mapper.class_
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, EnvironmentResource) and mapper.class_ is not Variable
    }
    assert set(wiring.ENVIRONMENT_RESOURCE_MODELS) == mapped


def test_every_family_with_operations_registers_them_there() -> None:
    families = sorted(p.parent.name for p in APP.glob("*/remote.py"))
    registers = {
        name: importlib.import_module(f"app.{name}.remote").register for name in families
    }
    assert [r for r in wiring.OPERATIONS if r not in registers.values()] == []
    assert [n for n, r in registers.items() if r not in wiring.OPERATIONS] == []
