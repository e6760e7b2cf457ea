"""Wrong input on every claimed operation gets a documented error, never a 500.

Walks this server's own OpenAPI document, so operations of later issues are covered as soon
as their tags are claimed in test_coverage.CLAIMED_TAGS.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.contract_checks.test_coverage import CLAIMED_TAGS
from tests.factories import auth, user_with_token

JUNK_PATH_VALUES = ["0", "abc", "9" * 30, "-1", "1.5", "%20"]
JUNK_BODIES: list[dict[str, Any]] = [
    {"content": b"[]"},
    {"content": b'"text"'},
    {"content": b"{not json"},
    {"content": b"null"},
    {
        "json": {
            "name": 5,
            "email": ["x"],
            "password": None,
            "expires_at": 12,
            "role_id": "many",
            "id": {"a": 1},
            "refresh_token": 7,
            "token": [],
        }
    },
    {"json": {"role_id": 10**30, "expires_at": "9999-99-99", "name": "ok name"}},
]


def _operations(app: Any) -> list[tuple[str, str]]:
    ops = []
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            if set(op.get("tags", [])) & CLAIMED_TAGS:
                ops.append((method.upper(), path))
    return ops


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{\w+\}", value, path)


def _assert_error_shape(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        body = r.json()
        assert isinstance(body.get("message"), str) and body["message"], what
        if "errors" in body:
            assert all(
                isinstance(v, list) and all(isinstance(m, str) for m in v)
                for v in body["errors"].values()
            ), what


async def test_bad_input_never_breaks_an_endpoint(
    app: Any, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    _, token = await user_with_token(db)
    headers = {**auth(token), "Content-Type": "application/json"}
    operations = _operations(app)
    assert operations
    for method, path in operations:
        for value in JUNK_PATH_VALUES:
            url = _fill(path, value)
            r = await client.request(method, url)
            _assert_error_shape(r, f"{method} {url} without auth")
            bodies = JUNK_BODIES if method in {"POST", "PUT", "PATCH"} else [{}]
            for body in bodies:
                r = await client.request(method, url, headers=headers, **body)
                _assert_error_shape(r, f"{method} {url} {body}")
        if method in {"POST", "PUT", "PATCH"}:
            r = await client.request(
                method,
                _fill(path, "1"),
                headers={**auth(token), "Content-Type": "text/plain"},
                content=b"hello",
            )
            assert r.status_code == 415, f"{method} {path}: {r.status_code}"
            _assert_error_shape(r, f"{method} {path} text/plain")
