"""Sale documents and their lines."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.customers.repository import (
    holds_vouchers_column,
    reference_params,
    reference_select,
)
from loyalty.ledger.schemas import Balance
from loyalty.models import customer, customer_balance, sale, sale_line
from loyalty.tiers.repository import window_total_column


@dataclass(frozen=True)
class QuoteReads:
    customer_id: uuid.UUID
    moysklad_id: str | None
    name: str | None
    status: str
    balance: Balance | None  # as stored: due maturities not applied
    holds_vouchers: bool
    window_total_minor: int = 0  # net purchases in the tier window (read only with tiers)


@functools.cache
def _quote_reads_select(by_our_id: bool, with_tier_window: bool) -> sa.Select[Any]:
    columns: list[Any] = [
        customer.c.id,
        customer.c.moysklad_id,
        customer.c.name,
        customer.c.status,
        customer_balance.c.available_points,
        customer_balance.c.pending_points,
        customer_balance.c.debt_points,
        customer_balance.c.next_maturity_at,
        holds_vouchers_column(),
    ]
    if with_tier_window:
        since = sa.bindparam("tier_window_since", type_=sa.Date)
        columns.append(
            window_total_column(customer.c.account_id, customer.c.id, since).label("window_total")
        )
    return (
        reference_select(by_our_id)
        .with_only_columns(*columns)
        .outerjoin(
            customer_balance,
            sa.and_(
                customer_balance.c.account_id == customer.c.account_id,
                customer_balance.c.customer_id == customer.c.id,
            ),
        )
    )


async def quote_reads(
    session: AsyncSession,
    account_id: uuid.UUID,
    reference: str,
    *,
    tier_window_since: date | None = None,
) -> QuoteReads | None:
    """A recalc's one round trip: the customer behind the till's reference, their stored
    balance, and whether they hold an issued discount voucher (most customers hold none, and
    then the voucher query is skipped)."""
    by_our_id, params = reference_params(account_id, reference)
    if tier_window_since is not None:
        params["tier_window_since"] = tier_window_since
    query = _quote_reads_select(by_our_id, tier_window_since is not None)
    row = (await session.execute(query, params)).one_or_none()
    if row is None:
        return None
    balance = (
        None
        if row.available_points is None
        else Balance(
            row.available_points, row.pending_points, row.debt_points, row.next_maturity_at
        )
    )
    return QuoteReads(
        row.id,
        row.moysklad_id,
        row.name,
        row.status,
        balance,
        bool(row.holds_vouchers),
        int(row.window_total) if tier_window_since is not None else 0,
    )


# Built once, bound per call (see ledger.repository): the commit's own statements.
_CLAIM = (
    pg_insert(sale)
    .on_conflict_do_nothing(index_elements=["account_id", "idempotency_key"])
    .returning(sale.c.id)
)
_BY_KEY = sa.select(sale).where(
    sale.c.account_id == sa.bindparam("account_id"),
    sale.c.idempotency_key == sa.bindparam("key"),
)
# The SET columns are the keys of each call's parameters besides these two.
_FINISH = sa.update(sale).where(
    sale.c.account_id == sa.bindparam("where_account_id"),
    sale.c.id == sa.bindparam("where_sale_id"),
)


async def claim(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert the sale under its idempotency key; None if that key is already taken.

    A concurrent copy blocks on the unique index until the first commits or rolls back."""
    result = await session.execute(_CLAIM, values)
    claimed: int | None = result.scalar_one_or_none()
    return claimed


async def get_by_key(session: AsyncSession, account_id: uuid.UUID, key: str) -> Any | None:
    return (await session.execute(_BY_KEY, {"account_id": account_id, "key": key})).one_or_none()


async def finish(
    session: AsyncSession, account_id: uuid.UUID, sale_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        _FINISH, {"where_account_id": account_id, "where_sale_id": sale_id, **values}
    )


async def insert_lines(session: AsyncSession, lines: list[dict[str, Any]]) -> None:
    if lines:
        await session.execute(sa.insert(sale_line), lines)


async def lock_by_moysklad_id(
    session: AsyncSession, account_id: uuid.UUID, moysklad_id: str
) -> Any | None:
    """The sale a return points at, locked so concurrent returns of it are serialised."""
    return (
        await session.execute(
            sa.select(sale)
            .where(sale.c.account_id == account_id, sale.c.idempotency_key == f"ms:{moysklad_id}")
            .with_for_update()
        )
    ).one_or_none()


async def lines_of(session: AsyncSession, account_id: uuid.UUID, sale_id: int) -> list[Any]:
    return list(
        await session.execute(
            sa.select(sale_line)
            .where(sale_line.c.account_id == account_id, sale_line.c.sale_id == sale_id)
            .order_by(sale_line.c.line_no)
        )
    )
