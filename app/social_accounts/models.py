from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin
from app.core.sealed import register_sealed_column
from app.credentials.catalogue import SOURCE_PROVIDER_NAMES


class SocialAccount(TimestampMixin, Base):
    """A user's own link to a source provider account (their OAuth token, sealed)."""

    __tablename__ = "social_accounts"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", name="uq_social_accounts_user_provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_user_id: Mapped[str] = mapped_column(String(128))
    provider_user_nickname: Mapped[str] = mapped_column(String(255))
    token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None]

    @property
    def provider_human_readable(self) -> str:
        return SOURCE_PROVIDER_NAMES.get(self.provider, self.provider.capitalize())

    @property
    def is_vcs(self) -> bool:
        return self.provider in SOURCE_PROVIDER_NAMES


register_sealed_column("social_accounts", "id", "token_encrypted")
register_sealed_column("social_accounts", "id", "refresh_token_encrypted")
