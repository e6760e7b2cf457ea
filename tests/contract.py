"""Validates every API response a test receives against the reference schema.

Installed as an httpx response hook on the test client: a body that does not match the
schema the reference documents for that operation and status code fails the test.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import httpx
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests import reference

ERROR_SCHEMA = {"$ref": "#/components/schemas/ApiError"}


class ContractViolation(AssertionError):
    pass


@lru_cache
def _registry(label: str) -> Registry:
    current, older = reference.documents()
    doc = current if label == "current" else older
    return Registry().with_resource("urn:ref", Resource.from_contents(doc, DRAFT4))


def _qualify(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: (
                "urn:ref" + v
                if k == "$ref" and isinstance(v, str) and v.startswith("#")
                else _qualify(v)
            )
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_qualify(v) for v in schema]
    return schema


def _validate(body: Any, schema: dict[str, Any], label: str, where: str) -> None:
    validator = OAS30Validator(_qualify(schema), registry=_registry(label))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in errors[:10]
        )
        raise ContractViolation(f"{where}: response does not match the reference: {details}")


def check_response(response: httpx.Response) -> None:
    """Raise ContractViolation if `response` breaks the reference for its operation."""
    request = response.request
    template = reference.match(request.method, request.url.path)
    if template is None:
        return  # not a reference operation (health, extensions): nothing to compare with
    where = f"{request.method} {template.path} -> {response.status_code}"
    spec = reference.operation_spec(template)
    documented = spec.get("responses", {}).get(str(response.status_code))
    raw = response.content
    if response.status_code >= 400:
        schema = ERROR_SCHEMA
        if documented and "content" in documented:
            schema = documented["content"]["application/json"]["schema"]
        _validate(_json(raw, where), schema, template.document, where)
        return
    if documented is None:
        # A success the reference does not list for this operation breaks clients that
        # branch on the documented code.
        raise ContractViolation(f"{where}: status {response.status_code} is not documented")
    content = documented.get("content")
    if not content:
        if raw.strip():
            raise ContractViolation(f"{where}: documented without a body, but one was sent")
        return
    schema = content.get("application/json", {}).get("schema")
    if schema is not None:
        _validate(_json(raw, where), schema, template.document, where)


def _json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ContractViolation(f"{where}: body is not JSON: {raw[:200]!r}") from exc


async def async_hook(response: httpx.Response) -> None:
    await response.aread()
    check_response(response)
