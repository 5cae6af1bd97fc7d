"""Sale documents and their lines."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import sale, sale_line


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
