"""Creating the first user from the command line, without the sign-up mail."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from app.core.database import Database
from app.core.security import hash_password, hash_token, new_token
from app.core.settings import Settings
from app.tokens.models import ApiToken, ApiTokenType
from app.tokens.service import PREFIXES
from app.users.models import User
from app.users.repository import UserRepository
from app.users.schemas import UserVerify


class InvalidUser(ValueError):
    """Values the command line was given that are refused: which ones, and why."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors))
        self.errors = errors


async def create_user_with_token(
    settings: Settings, *, email: str, password: str, name: str, token_expires_at: datetime
) -> tuple[int, str]:
    try:
        data = UserVerify(email=email, password=password, name=name, token="cli")
    except ValidationError as exc:
        raise InvalidUser([(str(e["loc"][0]), e["msg"]) for e in exc.errors()]) from exc
    database = Database(settings)
    try:
        async with database.transaction() as session:
            users = UserRepository(session)
            if await users.get_by_email(str(data.email)) is not None:
                raise ValueError(f"a user with e-mail {data.email} already exists")
            now = datetime.now(UTC)
            user = User(
                email=str(data.email).lower(),
                name=data.name,
                url_slug=await users.unique_slug(str(data.email).split("@")[0]),
                password_hash=hash_password(data.password),
                active=True,
                email_verified_at=now,
            )
            await users.add(user)
            secret = new_token(PREFIXES[ApiTokenType.PERSONAL_ACCESS_TOKEN])
            session.add(
                ApiToken(
                    type=ApiTokenType.PERSONAL_ACCESS_TOKEN,
                    name="created by devopness-server create-user",
                    token_hash=hash_token(secret),
                    user_id=user.id,
                    expires_at=token_expires_at,
                )
            )
            await session.flush()
            user_id = user.id
    finally:
        await database.dispose()
    return user_id, secret
