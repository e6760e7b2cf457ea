"""The one subscription a self-hosted instance has: unlimited, free, never used up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.users import schemas
from app.users.models import User

UNLIMITED = 2**31 - 1


def unlimited_subscription(user: User) -> schemas.Subscription:
    now = datetime.now(UTC)
    period_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    period_end = (period_start + timedelta(days=32)).replace(day=1)
    # The credit limit is the largest count a client can display; nothing is ever used.
    balance = schemas.SubscriptionBalance(
        credits=schemas.Credits(limit=UNLIMITED, used=0, remaining=UNLIMITED),
        unit="action-step",
        billing_period_started_at=period_start,
        billing_period_ends_at=period_end,
        created_at=user.created_at,
        updated_at=now,
    )
    return schemas.Subscription(
        id=user.id,
        user_id=user.id,
        plan_name="Self-hosted (unlimited)",
        status="active",
        quantity=1,
        price_unit=0,
        price_total=0,
        price_currency="USD",
        cancelled_at=None,
        ends_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        created_at=user.created_at,
        updated_at=user.updated_at,
        current_balance=balance,
        balances=[balance],
    )
