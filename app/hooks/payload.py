"""Reading incoming request bodies and evaluating a hook's conditions and variables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

MAX_STORED_TEXT = 65536
_MISSING = object()


def parse_body(raw: bytes, content_type: str) -> Any:
    """JSON as sent; GitHub's form deliveries (`payload=<json>`) unwrapped; text kept as is."""
    media = content_type.split(";", 1)[0].strip().lower()
    text = raw.decode("utf-8", errors="replace")
    if not raw:
        return {}
    if media == "application/x-www-form-urlencoded":
        form = {k: v[0] for k, v in parse_qs(text).items()}
        if "payload" in form:
            try:
                return json.loads(form["payload"])
            except ValueError:
                pass
        return form
    try:
        return json.loads(text)
    except ValueError:
        return {"content": text[:MAX_STORED_TEXT]}


def lookup(data: Any, path: str) -> Any:
    """Dot-notation access: `pull_request.head.ref`, `commits.0.id`."""
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def found(value: Any) -> bool:
    return value is not _MISSING


def unmet_condition(conditions: list[Mapping[str, Any]], body: Any) -> str | None:
    """The name (or path) of the first condition the body does not meet, if any."""
    for condition in conditions:
        value = lookup(body, str(condition.get("path", "")))
        if not found(value) or value not in condition.get("accepted_values", []):
            return str(condition.get("name") or condition.get("path"))
    return None


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "array": (list,),
    "boolean": (bool,),
}


def extract_variables(
    variables: list[Mapping[str, Any]], body: Any
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for variable in variables:
        name = str(variable.get("name"))
        value = lookup(body, str(variable.get("path") or name))
        if not found(value):
            if variable.get("required"):
                errors[f"variables.{name}"] = [f"The variable {name} is required."]
                continue
            value = variable.get("default_value")
            if value is None:
                continue
        kind = str(variable.get("type") or "string")
        expected = _TYPES.get(kind, (str,))
        is_bool = isinstance(value, bool)
        if not isinstance(value, expected) or (kind == "integer" and is_bool):
            errors[f"variables.{name}"] = [f"The variable {name} must be of type {kind}."]
            continue
        values[name] = value
    return values, errors
