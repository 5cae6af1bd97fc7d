"""Verification code rows (the code itself is stored only as a keyed digest)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import verification_code


async def lock_phone_and_store(
    session: AsyncSession, account_id: uuid.UUID, phone_index: bytes, retail_store_id: str | None
) -> None:
    """Serialise code requests per phone, then per store (always in that order), so neither
    the cooldown nor the caps can be raced."""
    keys = [f"verify:{account_id}:{phone_index.hex()}"]
    if retail_store_id:
        keys.append(f"verify-store:{account_id}:{retail_store_id}")
    for key in keys:
        await session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0)))
        )


async def store_requests_since(
    session: AsyncSession, account_id: uuid.UUID, retail_store_id: str, since: datetime
) -> tuple[int, datetime | None]:
    row = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.min(verification_code.c.created_at)).where(
                verification_code.c.account_id == account_id,
                verification_code.c.retail_store_id == retail_store_id,
                verification_code.c.created_at > since,
            )
        )
    ).one()
    return int(row[0]), row[1]


async def recent_requests(
    session: AsyncSession, account_id: uuid.UUID, phone_index: bytes, since: datetime
) -> list[datetime]:
    rows = await session.execute(
        sa.select(verification_code.c.created_at)
        .where(
            verification_code.c.account_id == account_id,
            verification_code.c.phone_index == phone_index,
            verification_code.c.created_at > since,
        )
        .order_by(verification_code.c.created_at)
    )
    return [row.created_at for row in rows]


async def insert(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    purpose: str,
    phone_index: bytes,
    code_hash: bytes,
    retail_store_id: str | None,
    customer_id: uuid.UUID | None,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    await session.execute(
        sa.insert(verification_code).values(
            account_id=account_id,
            purpose=purpose,
            phone_index=phone_index,
            code_hash=code_hash,
            retail_store_id=retail_store_id,
            customer_id=customer_id,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


async def delete_for_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(
        sa.delete(verification_code).where(verification_code.c.account_id == account_id)
    )
