"""Operator key storage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import account, operator_api_key


async def insert_key(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    name: str,
    role: str,
    key_hash: bytes,
    key_prefix: str,
    created_by: str | None,
) -> int:
    result = await session.execute(
        sa.insert(operator_api_key)
        .values(
            account_id=account_id,
            name=name,
            role=role,
            key_hash=key_hash,
            key_prefix=key_prefix,
            created_by=created_by,
        )
        .returning(operator_api_key.c.id)
    )
    return int(result.scalar_one())


async def authenticate(session: AsyncSession, key_hash: bytes) -> Any | None:
    """One indexed look-up: a live key of an active account."""
    return (
        await session.execute(
            sa.select(
                operator_api_key.c.account_id,
                operator_api_key.c.id,
                operator_api_key.c.name,
                operator_api_key.c.role,
                operator_api_key.c.key_hash,
            )
            .select_from(
                operator_api_key.join(account, account.c.id == operator_api_key.c.account_id)
            )
            .where(
                operator_api_key.c.key_hash == key_hash,
                operator_api_key.c.revoked_at.is_(None),
                account.c.status == "active",
            )
        )
    ).one_or_none()


async def list_keys(session: AsyncSession, account_id: uuid.UUID) -> list[Any]:
    return list(
        await session.execute(
            sa.select(operator_api_key)
            .where(operator_api_key.c.account_id == account_id)
            .order_by(operator_api_key.c.id)
        )
    )


async def revoke(
    session: AsyncSession, account_id: uuid.UUID, key_id: int, now: datetime
) -> Any | None:
    return (
        await session.execute(
            sa.update(operator_api_key)
            .where(operator_api_key.c.account_id == account_id, operator_api_key.c.id == key_id)
            .values(revoked_at=sa.func.coalesce(operator_api_key.c.revoked_at, now))
            .returning(operator_api_key)
        )
    ).one_or_none()
