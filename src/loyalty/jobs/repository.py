"""What the scheduled jobs scan: due maturities, birthdays in the window, expiring lots."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import (
    account,
    customer,
    customer_balance,
    expiry_warning,
    ledger_transaction,
    points_lot,
    program_settings,
)


async def lock_due_customers(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    """Customers whose activations or expiries fell due, locked; SKIP LOCKED leaves those a
    till (or another worker) holds to them, so the job never waits and never doubles work."""
    return list(
        await session.execute(
            sa.select(customer_balance.c.account_id, customer_balance.c.customer_id)
            .where(
                customer_balance.c.next_maturity_at.is_not(None),
                customer_balance.c.next_maturity_at <= now,
            )
            .order_by(customer_balance.c.next_maturity_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


async def birthday_accounts(
    session: AsyncSession, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Active accounts that pay a birthday bonus, in id order from `after`."""
    query = (
        sa.select(program_settings.c.account_id)
        .join(account, account.c.id == program_settings.c.account_id)
        .where(program_settings.c.birthday_bonus_points > 0, account.c.status == "active")
        .order_by(program_settings.c.account_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(program_settings.c.account_id > after)
    return [row.account_id for row in await session.execute(query)]


def birthday_key(customer_id: Any, year: Any) -> Any:
    """The ledger idempotency key that makes the bonus once a year: `birthday:<customer>:<year>`."""
    return sa.func.concat("birthday:", sa.cast(customer_id, sa.Text), ":", sa.cast(year, sa.Text))


async def lock_birthday_customers(
    session: AsyncSession,
    account_id: uuid.UUID,
    occurrences: list[tuple[int, int, int]],
    after: uuid.UUID | None,
    limit: int,
) -> list[Any]:
    """Customers whose birthday (month, day) is in the window and who have not been paid for
    that occurrence's year, locked (SKIP LOCKED), in id order from `after`."""
    window = sa.values(
        sa.column("month", sa.Integer),
        sa.column("day", sa.Integer),
        sa.column("year", sa.Integer),
        name="birthday_window",
    ).data(occurrences)
    query = (
        sa.select(customer.c.id.label("customer_id"), window.c.year)
        .select_from(
            customer.join(
                customer_balance,
                sa.and_(
                    customer_balance.c.account_id == customer.c.account_id,
                    customer_balance.c.customer_id == customer.c.id,
                ),
            ).join(
                window,
                sa.and_(
                    sa.extract("month", customer.c.birth_date) == window.c.month,
                    sa.extract("day", customer.c.birth_date) == window.c.day,
                ),
            )
        )
        .where(
            customer.c.account_id == account_id,
            customer.c.birth_date.is_not(None),
            ~sa.exists().where(
                ledger_transaction.c.account_id == customer.c.account_id,
                ledger_transaction.c.idempotency_key == birthday_key(customer.c.id, window.c.year),
            ),
        )
        .order_by(customer.c.id)
        .limit(limit)
        .with_for_update(of=customer_balance, skip_locked=True)
    )
    if after is not None:
        query = query.where(customer.c.id > after)
    return list(await session.execute(query))


async def max_expiry_warning_days(session: AsyncSession) -> int:
    result = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(program_settings.c.expiry_warning_days), 0))
    )
    return int(result or 0)


async def claim_expiry_warnings(
    session: AsyncSession, now: datetime, horizon: datetime, timezone: str, limit: int
) -> list[Any]:
    """Record up to `limit` new warnings (customer, expiry date, points) and return them. The
    primary key makes each warning once only, whichever worker gets there first."""
    expires_on = sa.cast(sa.func.timezone(timezone, points_lot.c.expires_at), sa.Date)
    warned = sa.exists().where(
        expiry_warning.c.account_id == points_lot.c.account_id,
        expiry_warning.c.customer_id == points_lot.c.customer_id,
        expiry_warning.c.expires_on == expires_on,
    )
    due = (
        sa.select(
            points_lot.c.account_id,
            points_lot.c.customer_id,
            expires_on.label("expires_on"),
            sa.func.sum(points_lot.c.remaining_points).label("expiring_points"),
        )
        .join(program_settings, program_settings.c.account_id == points_lot.c.account_id)
        .where(
            points_lot.c.state != "closed",
            points_lot.c.expires_at.is_not(None),
            points_lot.c.expires_at > now,
            points_lot.c.expires_at <= horizon,
            points_lot.c.remaining_points > 0,
            program_settings.c.expiry_warning_days > 0,
            points_lot.c.expires_at
            <= sa.literal(now, sa.DateTime(timezone=True))
            + sa.func.make_interval(0, 0, 0, program_settings.c.expiry_warning_days),
            ~warned,
        )
        .group_by(points_lot.c.account_id, points_lot.c.customer_id, expires_on)
        .order_by(points_lot.c.account_id, points_lot.c.customer_id, expires_on)
        .limit(limit)
    )
    inserted = (
        pg_insert(expiry_warning)
        .from_select(["account_id", "customer_id", "expires_on", "expiring_points"], due)
        .on_conflict_do_nothing()
        .returning(
            expiry_warning.c.account_id,
            expiry_warning.c.customer_id,
            expiry_warning.c.expires_on,
            expiry_warning.c.expiring_points,
        )
        .cte("inserted")
    )
    return list(
        await session.execute(
            sa.select(inserted, customer.c.moysklad_id).join(
                customer,
                sa.and_(
                    customer.c.account_id == inserted.c.account_id,
                    customer.c.id == inserted.c.customer_id,
                ),
            )
        )
    )


async def purge_past_expiry_warnings(session: AsyncSession, before: date, limit: int) -> int:
    """Delete up to `limit` warning marks for expiry dates before `before`: their points have
    expired, so no warning for those dates can be due again."""
    past = (
        sa.select(
            expiry_warning.c.account_id, expiry_warning.c.customer_id, expiry_warning.c.expires_on
        )
        .where(expiry_warning.c.expires_on < before)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("past")
    )
    result = await session.execute(
        sa.delete(expiry_warning).where(
            expiry_warning.c.account_id == past.c.account_id,
            expiry_warning.c.customer_id == past.c.customer_id,
            expiry_warning.c.expires_on == past.c.expires_on,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
