"""Program settings storage."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import program_settings
from loyalty.program.schemas import PROGRAM_FIELDS, ProgramSettings


def settings_from_row(row: Any) -> ProgramSettings:
    return ProgramSettings(**{name: getattr(row, name) for name in (*PROGRAM_FIELDS, "version")})


async def get(session: AsyncSession, account_id: uuid.UUID) -> ProgramSettings | None:
    row = (
        await session.execute(
            sa.select(program_settings).where(program_settings.c.account_id == account_id)
        )
    ).one_or_none()
    return None if row is None else settings_from_row(row)


async def insert_defaults(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(
        pg_insert(program_settings).values(account_id=account_id).on_conflict_do_nothing()
    )


async def update(
    session: AsyncSession, account_id: uuid.UUID, changes: dict[str, Any]
) -> ProgramSettings:
    row = (
        await session.execute(
            sa.update(program_settings)
            .where(program_settings.c.account_id == account_id)
            .values(**changes, version=program_settings.c.version + 1, updated_at=sa.func.now())
            .returning(program_settings)
        )
    ).one()
    return settings_from_row(row)
