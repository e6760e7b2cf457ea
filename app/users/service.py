"""Accounts: sign-up and verification, login sessions, password reset, profile."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import after_commit
from app.core.errors import Forbidden, NotFound, TooManyRequests, Unauthenticated, ValidationFailed
from app.core.mail import Mailer
from app.core.ratelimit import Counter
from app.core.security import (
    encode_access_token,
    hash_password,
    hash_token,
    new_token,
    password_needs_rehash,
    verify_password,
)
from app.core.settings import Settings
from app.users.models import AuthSession, User, UserToken, UserTokenPurpose
from app.users.repository import UserRepository
from app.users.schemas import (
    OwnedMemberStats,
    PasswordUserReset,
    TriggeredActions,
    TriggeredActionSummary,
    UserActivity,
    UserLogin,
    UserSignUp,
    UserUpdate,
    UserVerify,
)

REFRESH_PREFIX = "dvp_rt_"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class ClientInfo:
    ip: str
    user_agent: str | None


class UserService:
    def __init__(
        self, session: AsyncSession, settings: Settings, mailer: Mailer, counter: Counter
    ) -> None:
        self.session = session
        self.settings = settings
        self.mailer = mailer
        self.counter = counter
        self.users = UserRepository(session)

    # sign-up and verification

    async def sign_up(self, data: UserSignUp) -> User:
        if not self.settings.registration_open:
            raise Forbidden("Registration is closed on this server; ask an administrator.")
        email = str(data.email).lower()
        existing = await self.users.get_by_email(email)
        if existing is not None and existing.is_verified:
            raise ValidationFailed.field("email", "The email has already been taken.")
        if not self.settings.email_verification_required:
            missing = {
                f: [f"The {f} field is required."]
                for f in ("name", "password")
                if getattr(data, f) is None
            }
            if missing:
                raise ValidationFailed(ValidationFailed.default_message, missing)
        user = existing or User(
            email=email,
            url_slug=await self.users.unique_slug(email.split("@")[0]),
            active=False,
        )
        if data.name is not None:
            user.name = data.name
        if data.password is not None:
            user.password_hash = hash_password(data.password)
        if existing is None:
            await self.users.add(user)
        if self.settings.email_verification_required:
            await self._send_verification(user)
        else:
            self._activate(user)
        await self.session.flush()
        return user

    async def resend_verification(self, email: str) -> None:
        user = await self.users.get_by_email(email)
        # Same answer whether or not the address has an account: no account enumeration.
        if user is not None and not user.is_verified:
            await self._send_verification(user)

    async def verify(self, data: UserVerify) -> User:
        user = await self.users.get_by_email(str(data.email))
        token = await self._consume(user, data.token, UserTokenPurpose.VERIFY_EMAIL, field="token")
        assert user is not None and token is not None
        user.name = data.name
        user.password_hash = hash_password(data.password)
        self._activate(user)
        await self.session.flush()
        return user

    def _activate(self, user: User) -> None:
        user.active = True
        user.email_verified_at = datetime.now(UTC)

    async def _send_verification(self, user: User) -> None:
        now = datetime.now(UTC)
        await self.users.invalidate_user_tokens(user.id, UserTokenPurpose.VERIFY_EMAIL, now)
        token = await self._issue_user_token(
            user, UserTokenPurpose.VERIFY_EMAIL, self.settings.email_verification_ttl_seconds
        )
        link = self._link("/users/account/verify", email=user.email, token=token)
        body = (
            "Welcome to Devopness Server.\n\n"
            f"Your verification token: {token}\n\n"
            f"Complete your account at: {link}\n\n"
            "Send it with your name and a password to POST /users/account/verify.\n"
            f"The token expires in {self.settings.email_verification_ttl_seconds // 3600} hours.\n"
        )
        self._mail_after_commit(user.email, "Verify your e-mail address", body)

    # sessions

    async def login(self, data: UserLogin, client: ClientInfo) -> IssuedTokens:
        email = str(data.email).lower()
        key = f"login:{client.ip}:{email}"
        ip_key = f"login-ip:{client.ip}"
        window = self.settings.login_window_seconds
        attempts, retry = await self.counter.peek(key, window)
        ip_attempts, ip_retry = await self.counter.peek(ip_key, window)
        if attempts >= self.settings.login_max_attempts:
            raise TooManyRequests(retry, "Too many login attempts. Please try again later.")
        if ip_attempts >= self.settings.login_max_attempts * 10:
            raise TooManyRequests(ip_retry, "Too many login attempts. Please try again later.")
        user = await self.users.get_by_email(email)
        password_hash = user.password_hash if user is not None else None
        if user is None or not verify_password(data.password, password_hash):
            await self.counter.hit(key, window)
            await self.counter.hit(ip_key, window)
            raise Unauthenticated("These credentials do not match our records.")
        if not user.is_verified:
            raise Forbidden("Verify your e-mail address before logging in.")
        if not user.active:
            raise Forbidden("This account is disabled.")
        await self.counter.reset(key)
        if user.password_hash and password_needs_rehash(user.password_hash):
            user.password_hash = hash_password(data.password)
        return await self._open_session(user, client)

    async def _open_session(self, user: User, client: ClientInfo) -> IssuedTokens:
        refresh = new_token(REFRESH_PREFIX)
        auth_session = AuthSession(
            user_id=user.id,
            refresh_token_hash=hash_token(refresh),
            expires_at=datetime.now(UTC)
            + timedelta(seconds=self.settings.refresh_token_ttl_seconds),
            ip_address=client.ip,
            user_agent=(client.user_agent or "")[:512] or None,
        )
        await self.users.add(auth_session)
        return self._tokens_for(auth_session, refresh)

    def _tokens_for(self, auth_session: AuthSession, refresh: str) -> IssuedTokens:
        ttl = timedelta(seconds=self.settings.access_token_ttl_seconds)
        access, _ = encode_access_token(
            self.settings, user_id=auth_session.user_id, session_id=auth_session.id, ttl=ttl
        )
        return IssuedTokens(access, refresh, int(ttl.total_seconds()))

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        auth_session = await self.users.session_by_refresh_hash(hash_token(refresh_token))
        now = datetime.now(UTC)
        if auth_session is None or auth_session.revoked_at is not None:
            raise Unauthenticated("The refresh token is invalid or has been revoked.")
        if auth_session.expires_at <= now:
            raise Unauthenticated("The refresh token has expired; log in again.")
        user = await self.users.get(auth_session.user_id)
        if user is None or not user.active:
            raise Unauthenticated("The account is not active.")
        # Rotation: the presented refresh token is spent; a replay of it finds no session.
        refresh = new_token(REFRESH_PREFIX)
        auth_session.refresh_token_hash = hash_token(refresh)
        auth_session.expires_at = now + timedelta(seconds=self.settings.refresh_token_ttl_seconds)
        await self.session.flush()
        return self._tokens_for(auth_session, refresh)

    async def logout(self, session_id: int | None) -> None:
        if session_id is None:
            return
        auth_session = await self.users.get_session(session_id)
        if auth_session is not None and auth_session.revoked_at is None:
            auth_session.revoked_at = datetime.now(UTC)
            await self.session.flush()

    # passwords

    async def send_reset_link(self, email: str) -> None:
        user = await self.users.get_by_email(email)
        if user is None or not user.is_verified:
            return
        now = datetime.now(UTC)
        await self.users.invalidate_user_tokens(user.id, UserTokenPurpose.RESET_PASSWORD, now)
        token = await self._issue_user_token(
            user, UserTokenPurpose.RESET_PASSWORD, self.settings.password_reset_ttl_seconds
        )
        link = self._link("/users/password/reset", email=user.email, token=token)
        body = (
            "Someone asked to reset the password of your Devopness Server account.\n\n"
            f"Your reset token: {token}\n\nReset it at: {link}\n\n"
            "If it was not you, ignore this message; your password stays as it is.\n"
        )
        self._mail_after_commit(user.email, "Reset your password", body)

    async def reset_password(self, data: PasswordUserReset) -> list[int]:
        if data.password != data.password_confirmation:
            raise ValidationFailed.field(
                "password_confirmation", "The password confirmation does not match."
            )
        user = await self.users.get_by_email(str(data.email))
        await self._consume(user, data.token, UserTokenPurpose.RESET_PASSWORD, field="token")
        assert user is not None
        user.password_hash = hash_password(data.password)
        # A reset means the old password may be known to someone else: end every session.
        revoked = await self.users.revoke_sessions(user.id, datetime.now(UTC))
        await self.session.flush()
        return revoked

    # profile

    async def get_visible(self, key: str, viewer_id: int) -> User:
        user = await self.users.get_by_id_or_slug(key)
        if user is None or user.id != viewer_id:
            raise NotFound("User not found.")
        return user

    async def update(self, key: str, viewer_id: int, data: UserUpdate) -> User:
        user = await self.get_visible(key, viewer_id)
        for field in data.model_fields_set:
            value = getattr(data, field)
            if value is None:
                raise ValidationFailed.field(field, f"The {field} field may not be null.")
            setattr(user, field, value)
        await self.session.flush()
        return user

    async def me(self, user_id: int) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise Unauthenticated()
        return user

    async def activity(self, key: str, viewer_id: int) -> UserActivity:
        user = await self.get_visible(key, viewer_id)
        # Counts of what exists on this server for the user; membership (teams) and the
        # triggered actions join in as those domains add their repositories here.
        owned_projects = await self.users.count_owned_projects(user.id)
        zero = OwnedMemberStats(owner_of=0, member_of=0)
        return UserActivity(
            projects=OwnedMemberStats(owner_of=owned_projects, member_of=0),
            environments=zero,
            teams=zero,
            triggered_actions=TriggeredActions(summary=TriggeredActionSummary(), operations=[]),
        )

    # helpers

    async def _issue_user_token(self, user: User, purpose: str, ttl_seconds: int) -> str:
        token = secrets.token_hex(32)
        await self.users.add(
            UserToken(
                user_id=user.id,
                purpose=purpose,
                token_hash=hash_token(token),
                expires_at=datetime.now(UTC) + timedelta(seconds=ttl_seconds),
            )
        )
        return token

    async def _consume(
        self, user: User | None, token: str, purpose: str, *, field: str
    ) -> UserToken:
        record = await self.users.user_token(hash_token(token), purpose)
        now = datetime.now(UTC)
        if (
            user is None
            or record is None
            or record.user_id != user.id
            or record.used_at is not None
            or record.expires_at <= now
        ):
            raise ValidationFailed.field(field, "This token is invalid or has expired.")
        record.used_at = now
        return record

    def _link(self, path: str, **params: str) -> str:
        return f"{self.settings.frontend_url}{path}?{urlencode(params)}"

    def _mail_after_commit(self, to: str, subject: str, body: str) -> None:
        async def send() -> None:
            await self.mailer.send(to, subject, body)

        after_commit(self.session, send)
