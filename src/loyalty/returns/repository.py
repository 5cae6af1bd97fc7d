"""Return documents and their lines."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import sales_return, sales_return_line


async def claim(session: AsyncSession, values: dict[str, Any]) -> int | None:
    result = await session.execute(
        pg_insert(sales_return)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["account_id", "idempotency_key"])
        .returning(sales_return.c.id)
    )
    claimed: int | None = result.scalar_one_or_none()
    return claimed


async def get_by_key(session: AsyncSession, account_id: uuid.UUID, key: str) -> Any | None:
    return (
        await session.execute(
            sa.select(sales_return).where(
                sales_return.c.account_id == account_id, sales_return.c.idempotency_key == key
            )
        )
    ).one_or_none()


async def finish(
    session: AsyncSession, account_id: uuid.UUID, return_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        sa.update(sales_return)
        .where(sales_return.c.account_id == account_id, sales_return.c.id == return_id)
        .values(**values)
    )


async def insert_lines(session: AsyncSession, lines: list[dict[str, Any]]) -> None:
    if lines:
        await session.execute(sa.insert(sales_return_line), lines)


async def returned_so_far(
    session: AsyncSession, account_id: uuid.UUID, sale_id: int
) -> dict[int, Any]:
    """Per sale line: quantity returned, points refunded and reclaimed by earlier returns."""
    rows = await session.execute(
        sa.select(
            sales_return_line.c.sale_line_no,
            sa.func.sum(sales_return_line.c.quantity).label("quantity"),
            sa.func.sum(sales_return_line.c.refunded_spent_points).label("refunded"),
            sa.func.sum(sales_return_line.c.reclaimed_earned_points).label("reclaimed"),
        )
        .select_from(
            sales_return_line.join(
                sales_return,
                sa.and_(
                    sales_return.c.account_id == sales_return_line.c.account_id,
                    sales_return.c.id == sales_return_line.c.return_id,
                ),
            )
        )
        .where(
            sales_return.c.account_id == account_id,
            sales_return.c.sale_id == sale_id,
            sales_return_line.c.sale_line_no.is_not(None),
        )
        .group_by(sales_return_line.c.sale_line_no)
    )
    return {row.sale_line_no: row for row in rows}


async def forgiven_so_far(session: AsyncSession, account_id: uuid.UUID, sale_id: int) -> int:
    result = await session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(sales_return.c.forgiven_expired_points), 0)).where(
            sales_return.c.account_id == account_id, sales_return.c.sale_id == sale_id
        )
    )
    return int(result.scalar_one())
