"""Installations, answered Vendor API requests and seen JWT ids."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import moysklad_installation, moysklad_seen_jti, moysklad_vendor_request
from loyalty.moysklad.crypto import TokenCipher


async def lock_moysklad_account(session: AsyncSession, moysklad_account_id: str) -> None:
    """Serialise Vendor API calls for one MoySklad account (a retry racing the original)."""
    await session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(
                sa.func.hashtextextended("moysklad-vendor:" + moysklad_account_id, 0)
            )
        )
    )


async def claim_jti(session: AsyncSession, jti: str, remember_until: datetime) -> bool:
    """True the first time a jti is seen."""
    result = await session.execute(
        pg_insert(moysklad_seen_jti)
        .values(jti=jti, expires_at=remember_until)
        .on_conflict_do_nothing()
        .returning(moysklad_seen_jti.c.jti)
    )
    return result.scalar_one_or_none() is not None


async def get_vendor_request(
    session: AsyncSession, moysklad_account_id: str, request_id: str
) -> Any | None:
    return (
        await session.execute(
            sa.select(moysklad_vendor_request).where(
                moysklad_vendor_request.c.moysklad_account_id == moysklad_account_id,
                moysklad_vendor_request.c.request_id == request_id,
            )
        )
    ).one_or_none()


async def save_vendor_request(session: AsyncSession, **values: Any) -> None:
    await session.execute(sa.insert(moysklad_vendor_request).values(**values))


async def forget_old(session: AsyncSession, now: datetime, keep_requests_until: datetime) -> None:
    await session.execute(sa.delete(moysklad_seen_jti).where(moysklad_seen_jti.c.expires_at < now))
    await session.execute(
        sa.delete(moysklad_vendor_request).where(
            moysklad_vendor_request.c.created_at < keep_requests_until
        )
    )


async def get_installation(
    session: AsyncSession, account_id: uuid.UUID, *, for_update: bool = False
) -> Any | None:
    query = sa.select(moysklad_installation).where(moysklad_installation.c.account_id == account_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).one_or_none()


async def insert_installation(session: AsyncSession, **values: Any) -> None:
    await session.execute(sa.insert(moysklad_installation).values(**values))


async def update_installation(session: AsyncSession, account_id: uuid.UUID, **values: Any) -> None:
    await session.execute(
        sa.update(moysklad_installation)
        .where(moysklad_installation.c.account_id == account_id)
        .values(**values, updated_at=sa.func.now())
    )


async def activate_if_waiting(session: AsyncSession, account_id: uuid.UUID) -> None:
    """MoySklad accepted `Activated`; a Suspend or Uninstall that arrived meanwhile wins."""
    await session.execute(
        sa.update(moysklad_installation)
        .where(
            moysklad_installation.c.account_id == account_id,
            moysklad_installation.c.status == "SettingsRequired",
        )
        .values(status="Activated", status_report_error=None, updated_at=sa.func.now())
    )


async def due_for_purge(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    return list(
        (
            await session.execute(
                sa.select(moysklad_installation.c.account_id)
                .where(
                    moysklad_installation.c.status == "Uninstalled",
                    moysklad_installation.c.purged_at.is_(None),
                    moysklad_installation.c.purge_after <= now,
                )
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )


async def reencrypt_tokens(session: AsyncSession, cipher: TokenCipher) -> int:
    """Rotate every stored ciphertext to the first configured key; returns the rows changed."""
    rows = list(
        await session.execute(
            sa.select(
                moysklad_installation.c.account_id,
                moysklad_installation.c.access_token_ciphertext,
                moysklad_installation.c.pending_till_token_ciphertext,
            ).with_for_update()
        )
    )
    changed = 0
    for row in rows:
        values: dict[str, Any] = {}
        for column in ("access_token_ciphertext", "pending_till_token_ciphertext"):
            ciphertext = getattr(row, column)
            if ciphertext is not None:
                values[column] = cipher.rotate(ciphertext)
        if values:
            await update_installation(session, row.account_id, **values)
            changed += 1
    return changed
