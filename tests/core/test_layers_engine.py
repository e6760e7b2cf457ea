"""Imports run downward: the API (`app/`) never imports the workers or the launcher that
wires both, and the engine reaches the actions domain through its data layer, never its
service. Checked statically on every module's syntax tree, imports inside functions too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for each import in the file, wherever it sits; `from x import y`
    yields both `x` and `x.y` (y may be a module)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            if any(module == f or module.startswith(f"{f}.") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return sorted(set(found))


def test_the_api_never_imports_the_workers_or_the_launcher() -> None:
    assert _violations("app", ("workers", "launcher")) == []


# The actions domain's service layer: everything above its models, repository, targets,
# dispatch, listeners and builtins.
ACTIONS_SERVICES = (
    "app.actions.service", "app.actions.pipeline_service", "app.actions.start",
    "app.actions.scope", "app.actions.default_steps",
)


def test_the_engine_depends_on_no_service_web_framework_or_broker() -> None:
    assert _violations(
        "workers/engine", (*ACTIONS_SERVICES, "launcher", "fastapi", "celery")
    ) == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def run() -> None:\n    from workers.engine import executor\n")
    assert [m for _, m in _imports(module)] == ["workers.engine", "workers.engine.executor"]
