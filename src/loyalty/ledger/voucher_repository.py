"""Voucher ledger SQL. Only `ledger.vouchers` calls these; nothing else writes movements."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import voucher, voucher_batch, voucher_movement
from loyalty.webhooks.repository import has_endpoints_clause

VOUCHER_WITH_BATCH = (
    *voucher.c,
    voucher_batch.c.code.label("batch_code"),
    voucher_batch.c.name.label("batch_name"),
    sa.or_(
        voucher_batch.c.usage_limit.is_not(None), voucher_batch.c.per_customer_limit.is_not(None)
    ).label("batch_limited"),
)
VOUCHER_JOIN_BATCH = voucher.join(
    voucher_batch,
    sa.and_(
        voucher_batch.c.account_id == voucher.c.account_id,
        voucher_batch.c.id == voucher.c.batch_id,
    ),
)


async def lock_limited_batches(
    session: AsyncSession, account_id: uuid.UUID, batch_ids: Iterable[uuid.UUID]
) -> None:
    """Batch rows whose use counter the movements will raise, locked in id order."""
    ids = sorted(set(batch_ids))
    if not ids:
        return
    await session.execute(
        sa.select(voucher_batch.c.id)
        .where(
            voucher_batch.c.account_id == account_id,
            voucher_batch.c.id.in_(ids),
            voucher_batch.c.usage_limit.is_not(None),
        )
        .order_by(voucher_batch.c.id)
        .with_for_update()
    )


async def lock_vouchers(
    session: AsyncSession, account_id: uuid.UUID, voucher_ids: Iterable[uuid.UUID]
) -> list[Any]:
    ids = sorted(set(voucher_ids))
    if not ids:
        return []
    rows = await session.execute(
        sa.select(
            *VOUCHER_WITH_BATCH,
            # Whether redemptions must write webhook events, in the same round trip.
            has_endpoints_clause(account_id).label("account_has_webhooks"),
        )
        .select_from(VOUCHER_JOIN_BATCH)
        .where(voucher.c.account_id == account_id, voucher.c.id.in_(ids))
        .order_by(voucher.c.id)
        .with_for_update(of=voucher)
    )
    return list(rows)


async def insert_movement(session: AsyncSession, values: dict[str, Any]) -> Any | None:
    """INSERT … ON CONFLICT DO NOTHING on the idempotency key: None when already posted."""
    return (
        await session.execute(
            pg_insert(voucher_movement)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["account_id", "idempotency_key"])
            .returning(
                voucher_movement.c.id,
                voucher_movement.c.balance_after_minor,
                voucher_movement.c.used_count_after,
            )
        )
    ).one_or_none()


async def insert_movements(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(sa.insert(voucher_movement), rows)


async def find_movement(session: AsyncSession, account_id: uuid.UUID, key: str) -> Any | None:
    """The movement stored under a full (voucher-scoped) key."""
    return (
        await session.execute(
            sa.select(voucher_movement).where(
                voucher_movement.c.account_id == account_id,
                voucher_movement.c.idempotency_key == key,
            )
        )
    ).one_or_none()


async def issue_serial_range(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    batch_id: uuid.UUID,
    first_serial: int,
    last_serial: int,
    actor: str | None,
    occurred_at: datetime,
) -> int:
    """Issue every NEW voucher of a serial range in one statement: a stored-value voucher is
    credited its face value. The trigger applies each movement as if posted one by one."""
    source = (
        sa.select(
            voucher.c.account_id,
            voucher.c.id,
            voucher.c.batch_id,
            sa.literal("issue"),
            sa.case((voucher.c.has_balance, voucher.c.face_value_minor), else_=0),
            sa.literal(0),
            sa.cast(voucher.c.id, sa.Text) + sa.literal(":issue"),
            sa.literal(actor, sa.Text),
            sa.literal(occurred_at, sa.DateTime(timezone=True)),
        )
        .where(
            voucher.c.account_id == account_id,
            voucher.c.batch_id == batch_id,
            voucher.c.serial_number.between(first_serial, last_serial),
            voucher.c.status == "NEW",
        )
        .order_by(voucher.c.id)
    )
    result = await session.execute(
        pg_insert(voucher_movement).from_select(
            [
                "account_id",
                "voucher_id",
                "batch_id",
                "kind",
                "amount_minor",
                "uses_delta",
                "idempotency_key",
                "actor",
                "occurred_at",
            ],
            source,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
