"""Page selection (`page`, `per_page`) and the RFC 8288 `Link` header, for every list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Query, Request, Response
from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 2**31 - 1


@dataclass
class PageParams:
    page: int
    per_page: int
    request: Request
    response: Response

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def write_link_header(self, total: int) -> None:
        last = max(1, -(-total // self.per_page))
        links = [(1, "first"), (last, "last")]
        if self.page > 1:
            links.append((min(self.page - 1, last), "prev"))
        if self.page < last:
            links.append((self.page + 1, "next"))
        self.response.headers["Link"] = ", ".join(
            f'<{self._url(page)}>; rel="{rel}"' for page, rel in links
        )
        self.response.headers["X-Total-Count"] = str(total)

    def _url(self, page: int) -> str:
        url = self.request.url.include_query_params(page=page, per_page=self.per_page)
        # The path arrives decoded; a header (and RFC 8288) needs the URL percent-encoded.
        return str(url.replace(path=quote(url.path, safe="/:@!$&'()*+,;=~")))


async def page_params(
    request: Request,
    response: Response,
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="Number of the page to be retrieved")
    ] = 1,
    per_page: Annotated[
        int,
        Query(ge=1, le=MAX_PER_PAGE, description="Number of items returned per page"),
    ] = DEFAULT_PER_PAGE,
) -> PageParams:
    return PageParams(page=page, per_page=per_page, request=request, response=response)


PageDep = Annotated[PageParams, Depends(page_params)]


async def paginate(
    session: AsyncSession, statement: Select[Any], page: PageParams
) -> Sequence[Any]:
    """Count with a subquery, fetch one page, write the Link header; returns the rows."""
    count_stmt = select(func.count()).select_from(statement.order_by(None).subquery())
    total = int((await session.execute(count_stmt)).scalar_one())
    result = await session.execute(statement.limit(page.per_page).offset(page.offset))
    rows: Sequence[Any] = result.scalars().all()
    page.write_link_header(total)
    return rows


@dataclass(frozen=True)
class RowPages:
    """A statement of plain columns made ready for `paginate_rows`: its page with the total
    and its count alone, the page's bounds left as parameters. A list read on every request
    builds this once (with its own values as bind parameters too): building the statements
    and their cache keys cost more than running them."""

    paged: Select[*tuple[Any, ...]]
    counted: Select[*tuple[Any, ...]]

    @classmethod
    def of(cls, statement: Select[*tuple[Any, ...]]) -> RowPages:
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        paged = (
            statement.add_columns(counted.scalar_subquery())
            .limit(bindparam("page_limit"))
            .offset(bindparam("page_offset"))
        )
        return cls(paged, counted)


async def paginate_rows(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]] | RowPages,
    page: PageParams,
    params: Mapping[str, Any] | None = None,
) -> Sequence[Row[*tuple[Any, ...]]]:
    """`paginate` for a statement of plain columns: the page and the total in one statement
    (the count rides along as an uncorrelated subquery, which the database runs once), so a
    list costs one round trip instead of two. Each row carries the total as its last
    column. A page past the end has no row to carry it: only then is it counted apart.
    `params` are the statement's own bind parameters."""
    pages = statement if isinstance(statement, RowPages) else RowPages.of(statement)
    values = {**(params or {}), "page_limit": page.per_page, "page_offset": page.offset}
    rows = (await session.execute(pages.paged, values)).all()
    if rows:
        total = int(rows[0][-1])
    elif page.page == 1:
        total = 0
    else:
        total = int((await session.execute(pages.counted, dict(params or {}))).scalar_one())
    page.write_link_header(total)
    return rows


def paginate_list(items: Sequence[T], page: PageParams) -> Sequence[T]:
    """Paginate data that is not in the database (static catalogues, computed lists)."""
    page.write_link_header(len(items))
    return items[page.offset : page.offset + page.per_page]
