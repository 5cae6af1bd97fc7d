"""Sale documents and their lines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.customers.repository import reference_query
from loyalty.ledger.schemas import Balance
from loyalty.models import customer, customer_balance, sale, sale_line, voucher
from loyalty.tiers.repository import window_total_column
from loyalty.vouchers.schemas import VoucherStatus, VoucherType


@dataclass(frozen=True)
class QuoteReads:
    customer_id: uuid.UUID
    moysklad_id: str | None
    name: str | None
    status: str
    balance: Balance | None  # as stored: due maturities not applied
    holds_vouchers: bool
    window_total_minor: int = 0  # net purchases in the tier window (read only with tiers)


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
    holds_vouchers = (
        sa.exists()
        .where(
            voucher.c.account_id == customer.c.account_id,
            voucher.c.customer_id == customer.c.id,
            voucher.c.status == VoucherStatus.issued.value,
            voucher.c.voucher_type != VoucherType.gift.value,
        )
        .label("holds_vouchers")
    )
    columns: list[Any] = [
        customer.c.id,
        customer.c.moysklad_id,
        customer.c.name,
        customer.c.status,
        customer_balance.c.available_points,
        customer_balance.c.pending_points,
        customer_balance.c.debt_points,
        customer_balance.c.next_maturity_at,
        holds_vouchers,
    ]
    if tier_window_since is not None:
        columns.append(
            window_total_column(account_id, customer.c.id, tier_window_since).label("window_total")
        )
    query = (
        reference_query(account_id, reference)
        .with_only_columns(*columns)
        .outerjoin(
            customer_balance,
            sa.and_(
                customer_balance.c.account_id == customer.c.account_id,
                customer_balance.c.customer_id == customer.c.id,
            ),
        )
    )
    row = (await session.execute(query)).one_or_none()
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


async def claim(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert the sale under its idempotency key; None if that key is already taken.

    A concurrent copy blocks on the unique index until the first commits or rolls back."""
    result = await session.execute(
        pg_insert(sale)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["account_id", "idempotency_key"])
        .returning(sale.c.id)
    )
    claimed: int | None = result.scalar_one_or_none()
    return claimed


async def get_by_key(session: AsyncSession, account_id: uuid.UUID, key: str) -> Any | None:
    return (
        await session.execute(
            sa.select(sale).where(sale.c.account_id == account_id, sale.c.idempotency_key == key)
        )
    ).one_or_none()


async def finish(
    session: AsyncSession, account_id: uuid.UUID, sale_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        sa.update(sale)
        .where(sale.c.account_id == account_id, sale.c.id == sale_id)
        .values(**values)
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
