from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, paginate
from app.social_accounts.models import SocialAccount
from app.users.models import User


class SocialAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, user_id: int, page: PageParams) -> Sequence[SocialAccount]:
        stmt = (
            select(SocialAccount)
            .where(SocialAccount.user_id == user_id)
            .order_by(SocialAccount.provider)
        )
        return await paginate(self.session, stmt, page)

    async def user_and_accounts(self, user_id: int) -> tuple[User | None, list[SocialAccount]]:
        rows = (await self.session.execute(_user_and_accounts(), {"user_id": user_id})).all()
        if not rows:
            return None, []
        return rows[0][0], [account for _, account in rows if account is not None]

    async def by_provider(self, user_id: int, provider: str) -> SocialAccount | None:
        return await self.session.scalar(
            select(SocialAccount).where(
                SocialAccount.user_id == user_id, SocialAccount.provider == provider
            )
        )

    async def by_id(self, user_id: int, account_id: int) -> SocialAccount | None:
        return await self.session.scalar(
            select(SocialAccount).where(
                SocialAccount.user_id == user_id, SocialAccount.id == account_id
            )
        )

    async def add(self, account: SocialAccount) -> None:
        self.session.add(account)
        await self.session.flush()

    async def delete(self, account: SocialAccount) -> None:
        await self.session.delete(account)
        await self.session.flush()


@cache
def _user_and_accounts() -> Select[User, SocialAccount]:
    # Built once: `GET /users/me` runs it on every call, and building the statement and its
    # cache key cost about a tenth of that request's CPU.
    return (
        select(User, SocialAccount)
        .outerjoin(SocialAccount, SocialAccount.user_id == User.id)
        .where(User.id == bindparam("user_id", type_=Integer))
        .order_by(SocialAccount.provider)
    )
