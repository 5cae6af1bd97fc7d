"""Report queries. Each report is one statement, so its figures come from one snapshot even
while sales and lazy maturity postings commit around it.

The SQL is kept as text constants so `bench/reports.py` explains exactly what the service runs.
Every part is an index range scan on `account_id` first (migration 0007 adds the report indexes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models.account import account
from loyalty.models.moysklad import moysklad_retail_store
from loyalty.models.report import DAILY_FIGURES, report_rollup

# Stored balances are exact except for activations and expiries that fell due but are not posted
# yet (posting is lazy: the customer's next write). Those lots are corrected for here, as
# `ledger.rules.effective_balance` does for one customer.
LIABILITY_SQL = """
WITH stored AS (
    SELECT coalesce(sum(available_points), 0) AS available_points,
           coalesce(sum(pending_points), 0) AS pending_points,
           coalesce(sum(debt_points), 0) AS debt_points
      FROM customer_balance
     WHERE account_id = :account_id
), live_lots AS (
    -- One pass over live lots expiring by the last window: those already expired are not
    -- posted yet (they leave the stored balances), the others expire within a window.
    SELECT coalesce(sum(remaining_points)
                    FILTER (WHERE expires_at <= :now AND state = 'active'), 0) AS expired_available,
           coalesce(sum(remaining_points)
                    FILTER (WHERE expires_at <= :now AND state = 'pending'), 0) AS expired_pending,
           coalesce(sum(remaining_points)
                    FILTER (WHERE expires_at > :now AND expires_at <= :until_30), 0) AS within_30,
           coalesce(sum(remaining_points)
                    FILTER (WHERE expires_at > :now AND expires_at <= :until_60), 0) AS within_60,
           coalesce(sum(remaining_points) FILTER (WHERE expires_at > :now), 0) AS within_90
      FROM points_lot
     WHERE account_id = :account_id AND state <> 'closed'
       AND expires_at IS NOT NULL AND expires_at <= :until_90
), due_activations AS (
    SELECT coalesce(sum(remaining_points), 0) AS points
      FROM points_lot
     WHERE account_id = :account_id AND state = 'pending' AND activates_at <= :now
       AND (expires_at IS NULL OR expires_at > :now)
), certificates AS (
    SELECT count(*) AS certificate_count, coalesce(sum(balance_minor), 0) AS balance_minor
      FROM voucher
     WHERE account_id = :account_id AND voucher_type = 'GIFT' AND status = 'ISSUED'
       AND balance_minor > 0 AND (expires_at IS NULL OR expires_at > :now)
)
SELECT stored.available_points - live_lots.expired_available + due_activations.points
           AS available_points,
       stored.pending_points - live_lots.expired_pending - due_activations.points
           AS pending_points,
       stored.debt_points,
       live_lots.within_30, live_lots.within_60, live_lots.within_90,
       certificates.certificate_count, certificates.balance_minor AS certificate_balance_minor
  FROM stored, live_lots, due_activations, certificates
"""

# Sales and returns belong to the day the service recorded them (`created_at`); expiries to the
# day their lot expired (`effective_at`, or `expires_at` while the expiry is not posted yet).
_DAILY_SQL = """
WITH sales AS (
    SELECT CAST(timezone(:timezone, created_at) AS date) AS day, retail_store_id,
           sum(earned_points) AS earned_points,
           sum(spent_points) AS spent_points,
           count(*) FILTER (WHERE customer_id IS NOT NULL) AS sales_with_program_count,
           coalesce(sum(paid_minor) FILTER (WHERE customer_id IS NOT NULL), 0)
               AS sales_with_program_minor,
           count(*) FILTER (WHERE customer_id IS NULL) AS sales_without_program_count,
           coalesce(sum(paid_minor) FILTER (WHERE customer_id IS NULL), 0)
               AS sales_without_program_minor
      FROM sale
     WHERE account_id = :account_id AND created_at >= :start AND created_at < :end {store}
     GROUP BY 1, 2
), returns AS (
    SELECT CAST(timezone(:timezone, created_at) AS date) AS day, retail_store_id,
           sum(reclaimed_earned_points) AS reversed_earned_points,
           sum(refunded_spent_points) AS reversed_spent_points,
           count(*) AS returns_count,
           sum(returned_minor) AS returns_minor
      FROM sales_return
     WHERE account_id = :account_id AND created_at >= :start AND created_at < :end {store}
     GROUP BY 1, 2
), expiries AS (
    SELECT CAST(timezone(:timezone, t.effective_at) AS date) AS day,
           sum(e.amount_points) AS expired_points
      FROM ledger_transaction t
      JOIN ledger_entry e ON e.account_id = t.account_id AND e.transaction_id = t.id
     WHERE t.account_id = :account_id AND t.kind = 'expiry'
       AND t.effective_at >= :start AND t.effective_at < :end AND e.bucket = 'expired'
       AND {with_expiries}
     GROUP BY 1
    UNION ALL
    SELECT CAST(timezone(:timezone, expires_at) AS date), sum(remaining_points)
      FROM points_lot
     WHERE account_id = :account_id AND state <> 'closed' AND expires_at IS NOT NULL
       AND expires_at >= :start AND expires_at < :end AND expires_at <= :now
       AND {with_expiries}
     GROUP BY 1
)
SELECT day, retail_store_id,
       sum(earned_points) AS earned_points,
       sum(spent_points) AS spent_points,
       sum(reversed_earned_points) AS reversed_earned_points,
       sum(reversed_spent_points) AS reversed_spent_points,
       sum(expired_points) AS expired_points,
       sum(sales_with_program_count) AS sales_with_program_count,
       sum(sales_with_program_minor) AS sales_with_program_minor,
       sum(sales_without_program_count) AS sales_without_program_count,
       sum(sales_without_program_minor) AS sales_without_program_minor,
       sum(returns_count) AS returns_count,
       sum(returns_minor) AS returns_minor
  FROM (
    SELECT day, retail_store_id, earned_points, spent_points,
           0 AS reversed_earned_points, 0 AS reversed_spent_points, 0 AS expired_points,
           sales_with_program_count, sales_with_program_minor,
           sales_without_program_count, sales_without_program_minor,
           0 AS returns_count, 0 AS returns_minor
      FROM sales
    UNION ALL
    SELECT day, retail_store_id, 0, 0, reversed_earned_points, reversed_spent_points, 0,
           0, 0, 0, 0, returns_count, returns_minor
      FROM returns
    UNION ALL
    SELECT day, NULL, 0, 0, 0, 0, expired_points, 0, 0, 0, 0, 0, 0
      FROM expiries
  ) AS parts
 GROUP BY day, retail_store_id
 ORDER BY day, retail_store_id NULLS LAST
"""


def daily_sql(*, by_store: bool) -> str:
    """The daily statement for the whole account, or for one store (which has no expiries)."""
    return _DAILY_SQL.format(
        store="AND retail_store_id = :retail_store_id" if by_store else "",
        with_expiries="false" if by_store else "true",
    )


_FIGURES = ", ".join(DAILY_FIGURES)

ROLLED_UP_SQL = f"""
SELECT day, NULLIF(retail_store_key, '') AS retail_store_id, {_FIGURES}
  FROM report_daily_store
 WHERE account_id = :account_id AND day >= :first_day AND day <= :last_day {{store}}
 ORDER BY day, NULLIF(retail_store_key, '') NULLS LAST
"""

ROLL_UP_SQL = f"""
INSERT INTO report_daily_store (account_id, day, retail_store_key, {_FIGURES})
SELECT :account_id, day, coalesce(retail_store_id, ''), {_FIGURES}
  FROM ({daily_sql(by_store=False)}) AS daily
"""


def rolled_up_sql(*, by_store: bool) -> str:
    return ROLLED_UP_SQL.format(store="AND retail_store_key = :retail_store_id" if by_store else "")


# Customers per tier, in threshold order, tiers nobody holds included. The tier is the one last
# derived for the customer (on a document, or by `loyalty program tiers reevaluate`); a customer
# with no document yet has bought nothing, so holds the tier of threshold 0 if there is one.
# Merged customers live on in the customer they were merged into. A tier name no longer in the
# program (renamed or removed, not yet re-evaluated) is listed after the current tiers.
NO_TIER = "Без уровня"
TIERS_SQL = """
WITH counted AS (
    SELECT COALESCE(
               t.tier_name,
               CASE WHEN t.customer_id IS NULL THEN
                   (SELECT p.name FROM program_tier p
                     WHERE p.account_id = c.account_id AND p.threshold_minor = 0)
               END
           ) AS tier_name,
           count(*) AS customers
      FROM customer c
      LEFT JOIN customer_tier t ON t.account_id = c.account_id AND t.customer_id = c.id
     WHERE c.account_id = :account_id AND c.status <> 'merged'
     GROUP BY 1
)
SELECT tier, customers FROM (
    SELECT CAST(:no_tier AS text) AS tier,
           COALESCE((SELECT customers FROM counted WHERE tier_name IS NULL), 0) AS customers,
           -1 AS ordinal
    UNION ALL
    SELECT p.name, COALESCE(counted.customers, 0), p.threshold_minor
      FROM program_tier p
      LEFT JOIN counted ON counted.tier_name = p.name
     WHERE p.account_id = :account_id
    UNION ALL
    SELECT counted.tier_name, counted.customers, 9223372036854775807
      FROM counted
     WHERE counted.tier_name IS NOT NULL
       AND NOT EXISTS (
           SELECT 1 FROM program_tier p
            WHERE p.account_id = :account_id AND p.name = counted.tier_name
       )
) AS rows
ORDER BY ordinal, tier
"""


@dataclass(frozen=True)
class Liability:
    available_points: int
    pending_points: int
    debt_points: int
    expiring_points: dict[int, int]
    certificate_count: int
    certificate_balance_minor: int


async def liability(
    session: AsyncSession, account_id: uuid.UUID, now: datetime, until: dict[int, datetime]
) -> Liability:
    row = (
        await session.execute(
            sa.text(LIABILITY_SQL),
            {
                "account_id": account_id,
                "now": now,
                "until_30": until[30],
                "until_60": until[60],
                "until_90": until[90],
            },
        )
    ).one()
    return Liability(
        available_points=int(row.available_points),
        pending_points=int(row.pending_points),
        debt_points=int(row.debt_points),
        expiring_points={30: int(row.within_30), 60: int(row.within_60), 90: int(row.within_90)},
        certificate_count=int(row.certificate_count),
        certificate_balance_minor=int(row.certificate_balance_minor),
    )


async def daily(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    start: datetime,
    end: datetime,
    timezone: str,
    retail_store_id: str | None,
    now: datetime,
) -> list[Any]:
    params: dict[str, Any] = {
        "account_id": account_id,
        "start": start,
        "end": end,
        "timezone": timezone,
        "now": now,
    }
    if retail_store_id is not None:
        params["retail_store_id"] = retail_store_id
    statement = sa.text(daily_sql(by_store=retail_store_id is not None))
    return list((await session.execute(statement, params)).all())


async def rolled_up(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    first_day: date,
    last_day: date,
    retail_store_id: str | None,
) -> list[Any]:
    params: dict[str, Any] = {
        "account_id": account_id,
        "first_day": first_day,
        "last_day": last_day,
    }
    if retail_store_id is not None:
        params["retail_store_id"] = retail_store_id
    statement = sa.text(rolled_up_sql(by_store=retail_store_id is not None))
    return list((await session.execute(statement, params)).all())


async def rolled_up_through(session: AsyncSession, account_id: uuid.UUID) -> date | None:
    through: date | None = await session.scalar(
        sa.select(report_rollup.c.through_day).where(report_rollup.c.account_id == account_id)
    )
    return through


async def lock_rollup(session: AsyncSession, account_id: uuid.UUID, timezone: str) -> date | None:
    """The account's rollup mark, locked; a new mark is the day before the account opened.
    None when there is no such account."""
    await session.execute(
        sa.text(
            "INSERT INTO report_rollup (account_id, through_day)"
            " SELECT id, CAST(timezone(:timezone, created_at) AS date) - 1"
            "   FROM account WHERE id = :account_id"
            " ON CONFLICT (account_id) DO NOTHING"
        ),
        {"account_id": account_id, "timezone": timezone},
    )
    through: date | None = (
        await session.execute(
            sa.select(report_rollup.c.through_day)
            .where(report_rollup.c.account_id == account_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    return through


async def roll_up(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    start: datetime,
    end: datetime,
    through_day: date,
    timezone: str,
    now: datetime,
) -> None:
    """Store the figures of [start, end) and move the mark to `through_day`."""
    params = {
        "account_id": account_id,
        "start": start,
        "end": end,
        "timezone": timezone,
        "now": now,
    }
    await session.execute(sa.text(ROLL_UP_SQL), params)
    await session.execute(
        sa.update(report_rollup)
        .where(report_rollup.c.account_id == account_id)
        .values(through_day=through_day, updated_at=sa.func.now())
    )


async def store_names(
    session: AsyncSession, account_id: uuid.UUID, store_ids: set[str]
) -> dict[str, str]:
    """Store names from the mirrored MoySklad catalogue; ids not synced yet are left out."""
    if not store_ids:
        return {}
    rows = await session.execute(
        sa.select(moysklad_retail_store.c.id, moysklad_retail_store.c.name).where(
            moysklad_retail_store.c.account_id == account_id,
            moysklad_retail_store.c.id.in_(sorted(store_ids)),
        )
    )
    return {row.id: row.name for row in rows}


async def account_ids(session: AsyncSession) -> list[uuid.UUID]:
    return list((await session.scalars(sa.select(account.c.id).order_by(account.c.id))).all())


async def tier_distribution(session: AsyncSession, account_id: uuid.UUID) -> list[Any]:
    """(tier, customers) rows; see TIERS_SQL."""
    params = {"account_id": account_id, "no_tier": NO_TIER}
    return list((await session.execute(sa.text(TIERS_SQL), params)).all())
