"""Found by schema fuzzing: a list addressed with characters outside Latin-1 in its path
answered 500 (the Link header could not be encoded). Links are percent-encoded URLs."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests import resource_factories as rf


async def test_list_with_non_latin_path_answers_with_an_ascii_link_header(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await rf.create_tenant(db)
    r = await client.get(f"/environments/{t.environment.id}/actions/%F0%9F%9A%80é",
                         params={"per_page": 5}, headers=t.headers)
    assert r.status_code == 200, r.text
    link = r.headers["Link"]
    assert link.isascii()
    assert "/actions/%F0%9F%9A%80%C3%A9?" in link
    assert 'rel="first"' in link and 'rel="last"' in link
