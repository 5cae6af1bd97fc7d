"""Back-office SQL: customer pages and locks, and what a data export gathers."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import (
    audit_log,
    customer,
    customer_balance,
    sale,
    sales_return,
    verification_code,
    voucher,
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _with_balance() -> sa.Select[Any]:
    return sa.select(
        customer,
        customer_balance.c.available_points,
        customer_balance.c.pending_points,
        customer_balance.c.debt_points,
        customer_balance.c.next_maturity_at,
    ).outerjoin(
        customer_balance,
        sa.and_(
            customer_balance.c.account_id == customer.c.account_id,
            customer_balance.c.customer_id == customer.c.id,
        ),
    )


async def page(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    text: str | None,
    phone_index: bytes | None,
    status: str | None,
    after_id: uuid.UUID | None,
    limit: int,
) -> list[Any]:
    """Customers in id order after `after_id` (keyset: no page skips or repeats a row when
    customers are added meanwhile). `text` matches a phone, card or e-mail exactly, or a part
    of the name."""
    conditions: list[Any] = [customer.c.account_id == account_id]
    if text:
        lowered = text.lower()
        matches: list[Any] = [
            customer.c.card_number == text,
            sa.func.lower(customer.c.email) == lowered,
            sa.func.lower(customer.c.name).like(f"%{_escape_like(lowered)}%", escape="\\"),
        ]
        if phone_index is not None:
            matches.append(customer.c.phone_index == phone_index)
        conditions.append(sa.or_(*matches))
    if status is not None:
        conditions.append(customer.c.status == status)
    if after_id is not None:
        conditions.append(customer.c.id > after_id)
    rows = await session.execute(
        _with_balance().where(*conditions).order_by(customer.c.id).limit(limit)
    )
    return list(rows)


async def get(session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID) -> Any | None:
    return (
        await session.execute(
            sa.select(customer).where(
                customer.c.account_id == account_id, customer.c.id == customer_id
            )
        )
    ).one_or_none()


async def lock(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_ids: list[uuid.UUID],
    *,
    exclusive: bool,
) -> dict[uuid.UUID, Any]:
    """Lock customer rows in id order (before any balance lock, which is also taken in id
    order), so concurrent back-office requests queue instead of deadlocking. Shared locks let
    transfers run side by side; status changes and merges take exclusive ones."""
    query = (
        sa.select(customer)
        .where(customer.c.account_id == account_id, customer.c.id.in_(customer_ids))
        .order_by(customer.c.id)
    )
    query = query.with_for_update() if exclusive else query.with_for_update(read=True)
    return {row.id: row for row in await session.execute(query)}


async def update(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await session.execute(
        sa.update(customer)
        .where(customer.c.account_id == account_id, customer.c.id == customer_id)
        .values(**values, updated_at=sa.func.now())
    )


async def card_owner(
    session: AsyncSession, account_id: uuid.UUID, card_number: str
) -> uuid.UUID | None:
    result = await session.execute(
        sa.select(customer.c.id).where(
            customer.c.account_id == account_id, customer.c.card_number == card_number
        )
    )
    return result.scalar_one_or_none()


async def _rows(session: AsyncSession, query: sa.Select[Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in await session.execute(query)]


async def vouchers_of(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[dict[str, Any]]:
    columns = [column for column in voucher.c if column.name != "pin_hash"]
    return await _rows(
        session,
        sa.select(*columns)
        .where(voucher.c.account_id == account_id, voucher.c.customer_id == customer_id)
        .order_by(voucher.c.serial_number),
    )


async def sales_of(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[dict[str, Any]]:
    columns = [column for column in sale.c if column.name != "request_hash"]
    return await _rows(
        session,
        sa.select(*columns)
        .where(sale.c.account_id == account_id, sale.c.customer_id == customer_id)
        .order_by(sale.c.id),
    )


async def returns_of(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[dict[str, Any]]:
    columns = [column for column in sales_return.c if column.name != "request_hash"]
    return await _rows(
        session,
        sa.select(*columns)
        .where(sales_return.c.account_id == account_id, sales_return.c.customer_id == customer_id)
        .order_by(sales_return.c.id),
    )


async def audit_of(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[dict[str, Any]]:
    return await _rows(
        session,
        sa.select(audit_log)
        .where(
            audit_log.c.account_id == account_id,
            audit_log.c.entity_type == "customer",
            audit_log.c.entity_id == str(customer_id),
        )
        .order_by(audit_log.c.id),
    )


async def forget_verification_codes(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> None:
    """Codes sent to the customer's phone: short-lived rate-limit records keyed by the phone's
    blind index, which would still link the erased customer to a number."""
    await session.execute(
        sa.delete(verification_code).where(
            verification_code.c.account_id == account_id,
            verification_code.c.customer_id == customer_id,
        )
    )


async def reassign_issued_vouchers(
    session: AsyncSession, account_id: uuid.UUID, from_id: uuid.UUID, to_id: uuid.UUID
) -> int:
    """Issued vouchers still usable follow a merged customer; used, void and expired ones stay
    where their history happened."""
    result = await session.execute(
        sa.update(voucher)
        .where(
            voucher.c.account_id == account_id,
            voucher.c.customer_id == from_id,
            voucher.c.status == "ISSUED",
        )
        .values(customer_id=to_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)
