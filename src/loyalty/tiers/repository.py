"""Tiers, monthly purchase totals, customers' stored tiers and the tier history."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import (
    customer_purchase_month,
    customer_tier,
    customer_tier_change,
    program_settings,
    program_tier,
)
from loyalty.tiers.schemas import Tier


@dataclass(frozen=True)
class WindowTotal:
    total_minor: int
    oldest_month: date | None  # the oldest counted month with any purchase or return


@dataclass(frozen=True)
class StoredTier:
    known: bool  # False: the customer was never evaluated
    tier_name: str | None


def tier_from_row(row: Any) -> Tier:
    return Tier(
        name=row.name,
        threshold_minor=int(row.threshold_minor),
        earn_percent=Decimal(row.earn_percent),
        max_spend_percent=Decimal(row.max_spend_percent),
    )


def tiers_from_json(items: list[dict[str, Any]] | str | None) -> tuple[Tier, ...]:
    """The authentication query's JSON array back to tiers, sorted by threshold."""
    if not items:
        return ()
    parsed: list[dict[str, Any]] = json.loads(items) if isinstance(items, str) else items
    return tuple(
        sorted(
            (
                Tier(
                    name=item["name"],
                    threshold_minor=int(item["threshold_minor"]),
                    earn_percent=Decimal(str(item["earn_percent"])),
                    max_spend_percent=Decimal(str(item["max_spend_percent"])),
                )
                for item in parsed
            ),
            key=lambda tier: tier.threshold_minor,
        )
    )


def tiers_json_column(account_id_column: Any) -> Any:
    """The account's tiers as a JSON array, for the authentication query; NULL (nothing to
    decode on the hot path) when the account has none."""
    return (
        sa.select(
            sa.func.jsonb_agg(
                sa.func.jsonb_build_object(
                    "name",
                    program_tier.c.name,
                    "threshold_minor",
                    program_tier.c.threshold_minor,
                    # As text: the percents reach Python as exact Decimals, never via a float.
                    "earn_percent",
                    sa.cast(program_tier.c.earn_percent, sa.Text),
                    "max_spend_percent",
                    sa.cast(program_tier.c.max_spend_percent, sa.Text),
                ),
                type_=JSONB,
            )
        )
        .where(program_tier.c.account_id == account_id_column)
        .scalar_subquery()
    )


async def list_tiers(session: AsyncSession, account_id: uuid.UUID) -> list[Tier]:
    rows = await session.execute(
        sa.select(program_tier)
        .where(program_tier.c.account_id == account_id)
        .order_by(program_tier.c.threshold_minor)
    )
    return [tier_from_row(row) for row in rows]


async def lock_window_months(session: AsyncSession, account_id: uuid.UUID) -> int | None:
    """Locks the program row: concurrent changes of one account's tiers are serialised."""
    value = (
        await session.execute(
            sa.select(program_settings.c.tier_window_months)
            .where(program_settings.c.account_id == account_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    return None if value is None else int(value)


async def replace_tiers(
    session: AsyncSession, account_id: uuid.UUID, tiers: list[Tier], window_months: int
) -> None:
    await delete_tiers(session, account_id)
    if tiers:
        await session.execute(
            sa.insert(program_tier),
            [
                {
                    "account_id": account_id,
                    "name": tier.name,
                    "threshold_minor": tier.threshold_minor,
                    "earn_percent": tier.earn_percent,
                    "max_spend_percent": tier.max_spend_percent,
                }
                for tier in tiers
            ],
        )
    await session.execute(
        sa.update(program_settings)
        .where(program_settings.c.account_id == account_id)
        .values(
            tier_window_months=window_months,
            version=program_settings.c.version + 1,
            updated_at=sa.func.now(),
        )
    )


async def delete_tiers(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(sa.delete(program_tier).where(program_tier.c.account_id == account_id))


async def review_everyone(session: AsyncSession, account_id: uuid.UUID, now: datetime) -> None:
    """The tiers changed: every stored tier is due for re-evaluation by the worker."""
    await session.execute(
        sa.update(customer_tier)
        .where(customer_tier.c.account_id == account_id)
        .values(review_at=now)
    )


def window_total_column(account_id: Any, customer_id: Any, since: Any) -> sa.ScalarSelect[Any]:
    """Net purchases of the customer since the month `since` (a scalar subquery)."""
    return (
        sa.select(
            sa.func.coalesce(
                sa.func.sum(
                    customer_purchase_month.c.purchased_minor
                    - customer_purchase_month.c.returned_minor
                ),
                0,
            )
        )
        .where(
            customer_purchase_month.c.account_id == account_id,
            customer_purchase_month.c.customer_id == customer_id,
            customer_purchase_month.c.month >= since,
        )
        .scalar_subquery()
    )


async def lock_stored_tier(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, since: date
) -> tuple[StoredTier, int]:
    """The customer's stored tier, locked, and their window total (one round trip once the
    customer has been evaluated)."""
    total = window_total_column(account_id, customer_id, since)
    row = (
        await session.execute(
            sa.select(customer_tier.c.tier_name, total.label("window_total"))
            .where(
                customer_tier.c.account_id == account_id,
                customer_tier.c.customer_id == customer_id,
            )
            .with_for_update(of=customer_tier)
        )
    ).one_or_none()
    if row is not None:
        return StoredTier(True, row.tier_name), int(row.window_total)
    value = (await session.execute(sa.select(total))).scalar_one()
    return StoredTier(False, None), int(value)


async def add_to_month(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    month: date,
    *,
    purchased_minor: int = 0,
    returned_minor: int = 0,
) -> None:
    statement = pg_insert(customer_purchase_month).values(
        account_id=account_id,
        customer_id=customer_id,
        month=month,
        purchased_minor=purchased_minor,
        returned_minor=returned_minor,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[
                customer_purchase_month.c.account_id,
                customer_purchase_month.c.customer_id,
                customer_purchase_month.c.month,
            ],
            set_={
                "purchased_minor": customer_purchase_month.c.purchased_minor
                + statement.excluded.purchased_minor,
                "returned_minor": customer_purchase_month.c.returned_minor
                + statement.excluded.returned_minor,
            },
        )
    )


async def window_totals(
    session: AsyncSession, account_id: uuid.UUID, customer_ids: list[uuid.UUID], since: date
) -> dict[uuid.UUID, WindowTotal]:
    if not customer_ids:
        return {}
    net = customer_purchase_month.c.purchased_minor - customer_purchase_month.c.returned_minor
    rows = await session.execute(
        sa.select(
            customer_purchase_month.c.customer_id,
            sa.func.sum(net).label("total"),
            sa.func.min(customer_purchase_month.c.month).label("oldest"),
        )
        .where(
            customer_purchase_month.c.account_id == account_id,
            customer_purchase_month.c.customer_id.in_(customer_ids),
            customer_purchase_month.c.month >= since,
        )
        .group_by(customer_purchase_month.c.customer_id)
    )
    found = {row.customer_id: WindowTotal(int(row.total), row.oldest) for row in rows}
    return {
        customer_id: found.get(customer_id, WindowTotal(0, None)) for customer_id in customer_ids
    }


async def save_tier(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    tier_name: str | None,
    window_total_minor: int,
    evaluated_at: datetime,
    review_at: datetime | None,
) -> None:
    values = {
        "tier_name": tier_name,
        "window_total_minor": window_total_minor,
        "evaluated_at": evaluated_at,
        "review_at": review_at,
    }
    statement = pg_insert(customer_tier).values(
        account_id=account_id, customer_id=customer_id, **values
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[customer_tier.c.account_id, customer_tier.c.customer_id], set_=values
        )
    )


async def insert_change(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(sa.insert(customer_tier_change).values(**values))


async def lock_due(
    session: AsyncSession, account_id: uuid.UUID, now: datetime, batch_size: int
) -> list[Any]:
    """Stored tiers due for re-evaluation; rows another worker or a till holds are skipped."""
    return list(
        await session.execute(
            sa.select(
                customer_tier.c.customer_id,
                customer_tier.c.tier_name,
                customer_tier.c.window_total_minor,
            )
            .where(customer_tier.c.account_id == account_id, customer_tier.c.review_at <= now)
            .order_by(customer_tier.c.review_at, customer_tier.c.customer_id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )


async def stored_tier(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> str | None:
    name: str | None = (
        await session.execute(
            sa.select(customer_tier.c.tier_name).where(
                customer_tier.c.account_id == account_id,
                customer_tier.c.customer_id == customer_id,
            )
        )
    ).scalar_one_or_none()
    return name


async def history(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[Any]:
    return list(
        await session.execute(
            sa.select(customer_tier_change)
            .where(
                customer_tier_change.c.account_id == account_id,
                customer_tier_change.c.customer_id == customer_id,
            )
            .order_by(customer_tier_change.c.id)
        )
    )


_REBUILD_MONTHS = sa.text(
    """
    INSERT INTO customer_purchase_month
           (account_id, customer_id, month, purchased_minor, returned_minor)
    SELECT :account_id, customer_id, month, sum(purchased), sum(returned)
      FROM (
            SELECT s.customer_id,
                   CAST(date_trunc('month', s.created_at AT TIME ZONE 'UTC') AS date) AS month,
                   s.paid_minor AS purchased, 0 AS returned
              FROM sale s
             WHERE s.account_id = :account_id AND s.customer_id IS NOT NULL
            UNION ALL
            SELECT r.customer_id,
                   CAST(date_trunc('month', coalesce(s.created_at, r.created_at) AT TIME ZONE 'UTC')
                        AS date),
                   0, r.returned_minor
              FROM sales_return r
              LEFT JOIN sale s ON s.account_id = r.account_id AND s.id = r.sale_id
             WHERE r.account_id = :account_id AND r.customer_id IS NOT NULL
           ) documents
     GROUP BY customer_id, month
    """
)

_REVIEW_COUNTED = sa.text(
    """
    INSERT INTO customer_tier
           (account_id, customer_id, tier_name, window_total_minor, evaluated_at, review_at)
    SELECT :account_id, customer_id, NULL,
           greatest(0, sum(purchased_minor - returned_minor) FILTER (WHERE month >= :since)),
           :now, :now
      FROM customer_purchase_month
     WHERE account_id = :account_id
     GROUP BY customer_id
    ON CONFLICT (account_id, customer_id) DO UPDATE
       SET window_total_minor = EXCLUDED.window_total_minor, review_at = EXCLUDED.review_at
    """
)


async def rebuild_purchase_months(
    session: AsyncSession, account_id: uuid.UUID, since: date, now: datetime
) -> None:
    """Tiers switched on: count the purchase history kept while they were off (months by the
    time each sale was recorded), and leave every customer due for the worker."""
    await session.execute(
        sa.delete(customer_purchase_month).where(customer_purchase_month.c.account_id == account_id)
    )
    await session.execute(_REBUILD_MONTHS, {"account_id": account_id})
    await session.execute(_REVIEW_COUNTED, {"account_id": account_id, "since": since, "now": now})


async def accounts_due(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Accounts with a stored tier due for re-evaluation (for a scheduled run over all)."""
    rows = await session.execute(
        sa.select(customer_tier.c.account_id)
        .where(customer_tier.c.review_at <= now)
        .group_by(customer_tier.c.account_id)
        .order_by(customer_tier.c.account_id)
    )
    return [row.account_id for row in rows]
