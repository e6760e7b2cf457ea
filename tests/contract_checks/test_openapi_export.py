"""openapi/openapi.json is what `devopness-server openapi` writes; a stale copy fails here."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from launcher.cli import cli

EXPORTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_exported_document_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "openapi.json"
    result = CliRunner().invoke(cli, ["openapi", "--output", str(fresh)])
    assert result.exit_code == 0, result.output
    assert EXPORTED.is_file(), "run `devopness-server openapi` and commit openapi/openapi.json"
    assert json.loads(EXPORTED.read_text()) == json.loads(fresh.read_text()), (
        "openapi/openapi.json is stale: run `devopness-server openapi` and commit it"
    )


def test_operation_ids_are_unique() -> None:
    document = json.loads(EXPORTED.read_text())
    ids = [
        op["operationId"]
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids))
