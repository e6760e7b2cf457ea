"""Schema fuzzing: requests generated from the reference document (schemathesis) against a
real server holding one of each resource, id path parameters pinned to those rows. Every
answer must be a non-5xx whose body matches the reference's schema for its status.

The document is read as the rest of the suite reads it (`tests.reference.documents()`:
overlapping `oneOf`s as `anyOf`, `nullable` enums allowing null), so this checks the same
contract as the response hook on the test client, on inputs nobody wrote by hand.

DEVOPNESS_FUZZ_EXAMPLES sets the examples per operation (default 4: a few minutes on two
cores). Operations that delete or archive the seeded rows run last.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import reference
from tests.conftest import Mailbox
from tests.contract_checks.seeded_server import SeededServer, seeded_server

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed "
                                   "(pip install -e '.[dev]')")
# Imported here, not lazily deep inside example generation: hypothesis is a pytest plugin,
# so its modules go through pytest's assertion rewriting, and CPython 3.11's compiler can
# fail there with "AST constructor recursion depth mismatch" when called that deep.
import hypothesis.strategies._internal.random  # noqa: E402, F401
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

EXAMPLES = int(os.environ.get("DEVOPNESS_FUZZ_EXAMPLES", "4"))

# Operations that take the seeded rows away from the operations after them run last, the
# containers after what they contain.
_LAST = {
    "POST /environments/{environment_id}/archive": 2,
    "DELETE /environments/{environment_id}": 3,
    "DELETE /projects/{project_id}": 4,
    "DELETE /organizations/{organization_id}": 5,
}

# Operations whose answers still break the reference, each with the reason: strict, so
# fixing one fails the run until it is removed from here.
KNOWN_FAILURES: dict[str, str] = {}
# Failures that depend on timing, so a strict mark would fail the runs where they do not
# happen; each is a defect to fix, not a shape to accept.
INTERMITTENT: dict[str, str] = {}


def _operations() -> list[Any]:
    if reference.reference_dir() is None:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason="API reference not found: put it at ../shared/reference or set "
                   "DEVOPNESS_REFERENCE_DIR"))]
    current, _ = reference.documents()
    labels = [
        f"{method.upper()} {path}"
        for path, item in current["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]

    def rank(label: str) -> tuple[int, str]:
        return (_LAST.get(label, 1 if label.startswith("DELETE ") else 0), label)

    def marks(label: str) -> list[pytest.MarkDecorator]:
        if label in KNOWN_FAILURES:
            return [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[label])]
        if label in INTERMITTENT:
            return [pytest.mark.xfail(strict=False, reason=INTERMITTENT[label])]
        return []

    return [pytest.param(label, id=label, marks=marks(label))
            for label in sorted(labels, key=rank)]


@pytest.fixture(scope="module")
def schema() -> Any:
    current, _ = reference.documents()
    return schemathesis.openapi.from_dict(current)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp: tuple[Mailbox, int],
           moto_url: str) -> Iterator[SeededServer]:
    _, smtp_port = smtp
    with seeded_server(tmp_path_factory.mktemp("fuzz"), smtp_port, moto_url) as running:
        yield running


def _pin(case: Any, server: SeededServer) -> None:
    """Point the generated ids at the seeded rows; other path values stay generated."""
    params: dict[str, Any] = case.path_parameters or {}
    chooser = random.Random(repr(sorted(params.items())))
    for pair in (("resource_type", "resource_id"), ("child_type", "child_id"),
                 ("target_resource_type", "target_resource_id")):
        if pair[0] in params and pair[1] in params:
            kind = chooser.choice(sorted(server.resources))
            params[pair[0]], params[pair[1]] = kind, server.resources[kind]
    if "hook_id" in params:
        kind = params.get("hook_type") or chooser.choice(sorted(server.hooks))
        if kind in server.hooks:
            params["hook_id"] = server.hooks[kind]
    for name, value in server.pins.items():
        if name in params:
            params[name] = value
    case.path_parameters = params


@pytest.mark.parametrize("operation", _operations())
def test_operation_answers_per_the_reference(
    operation: str | None, schema: Any, server: SeededServer
) -> None:
    assert operation is not None
    method, path = operation.split(" ", 1)
    api_operation = schema[path][method]
    headers = {"Authorization": f"Bearer {server.token}", "Accept": "application/json"}
    failures: list[str] = []

    @given(case=api_operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        _pin(case, server)
        response = case.call(base_url=server.url, headers=headers, timeout=60)
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except Exception as exc:  # schemathesis' group of the checks' failures
            # Collected, not raised, so the report shows every failing example of the
            # operation rather than the first.
            failures.append(f"{case.method} {path} -> {response.status_code}: {exc}")

    run()
    assert not failures, "\n\n".join(failures[:3])


def test_reference_path_is_used(schema: Any) -> None:
    """The fuzzed document is the reference the other contract checks read."""
    assert Path(reference.require_reference(), reference.CURRENT).is_file()
    assert len(list(schema.get_all_operations())) >= 200
