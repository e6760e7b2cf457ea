"""The published API reference, read from ../shared/reference (or $DEVOPNESS_REFERENCE_DIR).

Never copied into the project: tests that need it skip with a clear message when absent.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CURRENT = "devopness-openapi-2026-08.json"
OLDER = "devopness-openapi-2025-11.json"


def reference_dir() -> Path | None:
    candidates = [os.environ.get("DEVOPNESS_REFERENCE_DIR"), ROOT.parent / "shared" / "reference"]
    for candidate in candidates:
        if candidate and (Path(candidate) / CURRENT).is_file():
            return Path(candidate)
    return None


def require_reference() -> Path:
    path = reference_dir()
    if path is None:
        pytest.skip(
            "API reference not found: put it at ../shared/reference or set "
            "DEVOPNESS_REFERENCE_DIR to the folder holding devopness-openapi-2026-08.json"
        )
    return path


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    tag: str
    deprecated: bool


@lru_cache
def operations() -> list[Operation]:
    with open(require_reference() / "operations.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [
        Operation(r["method"], r["path"], r["operation_id"], r["tag"], r["deprecated"] == "yes")
        for r in rows
    ]


def _allow_null_in_enums(node: Any) -> Any:
    # OpenAPI 3.0 `nullable: true` beside an `enum` means null is allowed too (the SDK's
    # models accept it); a JSON Schema validator needs null listed in the enum.
    if isinstance(node, dict):
        out = {k: _allow_null_in_enums(v) for k, v in node.items()}
        if out.get("nullable") is True and isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None] if None not in out["enum"] else out["enum"]
        # Several `oneOf`s list alternatives that overlap (an AWS network's settings also
        # satisfy the Azure, DigitalOcean and GCP shapes), so no body could ever match
        # exactly one. The SDK's generated models read them as a Union, i.e. `anyOf`.
        if isinstance(out.get("oneOf"), list):
            out["anyOf"] = out.pop("oneOf")
        return out
    if isinstance(node, list):
        return [_allow_null_in_enums(v) for v in node]
    return node


@lru_cache
def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    base = require_reference()
    current = _allow_null_in_enums(json.loads((base / CURRENT).read_text()))
    older = _allow_null_in_enums(json.loads((base / OLDER).read_text()))
    return current, older


@dataclass(frozen=True)
class Template:
    method: str
    path: str
    regex: re.Pattern[str]
    literal_segments: int
    document: str  # "current" or "older"


def _param_schema(op: dict[str, Any], path_item: dict[str, Any], name: str) -> dict[str, Any]:
    for param in [*path_item.get("parameters", []), *op.get("parameters", [])]:
        if param.get("in") == "path" and param.get("name") == name:
            return dict(param.get("schema", {}))
    return {}


@lru_cache
def templates() -> list[Template]:
    current, older = documents()
    result: list[Template] = []
    seen: set[tuple[str, str]] = set()
    for label, doc in (("current", current), ("older", older)):
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if method not in {"get", "post", "put", "delete", "patch"}:
                    continue
                key = (method.upper(), path)
                if key in seen:
                    continue
                seen.add(key)
                pattern = ""
                literal = 0
                for segment in path.strip("/").split("/"):
                    m = re.fullmatch(r"\{(\w+)\}", segment)
                    if m:
                        kind = _param_schema(op, item, m.group(1)).get("type")
                        pattern += "/" + (r"\d+" if kind == "integer" else r"[^/]+")
                    else:
                        pattern += "/" + re.escape(segment)
                        literal += 1
                result.append(
                    Template(method.upper(), path, re.compile(f"^{pattern}$"), literal, label)
                )
    return result


def match(method: str, path: str) -> Template | None:
    found = [t for t in templates() if t.method == method and t.regex.match(path)]
    if not found:
        return None
    return max(found, key=lambda t: t.literal_segments)


def operation_spec(template: Template) -> dict[str, Any]:
    current, older = documents()
    doc = current if template.document == "current" else older
    spec: dict[str, Any] = doc["paths"][template.path][template.method.lower()]
    return spec
