"""The durable task queue: one row per (account, kind), leased by a worker while it runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import moysklad_task


async def enqueue(
    session: AsyncSession, account_id: uuid.UUID, kind: str, *, delay_seconds: float = 0
) -> None:
    """Coalescing: a task already queued runs once more (and no later than asked); one that is
    running now is run again after it finishes, because `requested_at` moved on."""
    run_after = sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, delay_seconds)
    statement = pg_insert(moysklad_task).values(
        account_id=account_id,
        kind=kind,
        requested_at=sa.func.clock_timestamp(),
        run_after=run_after,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[moysklad_task.c.account_id, moysklad_task.c.kind],
            set_={
                "requested_at": statement.excluded.requested_at,
                "run_after": sa.func.least(moysklad_task.c.run_after, statement.excluded.run_after),
            },
        )
    )


async def claim_next(session: AsyncSession, lease_seconds: float) -> Any | None:
    """Lease the most overdue task nobody holds; SKIP LOCKED lets workers never wait."""
    candidate = (
        sa.select(moysklad_task.c.account_id, moysklad_task.c.kind)
        .where(
            moysklad_task.c.run_after <= sa.func.now(),
            sa.or_(
                moysklad_task.c.leased_until.is_(None),
                moysklad_task.c.leased_until < sa.func.now(),
            ),
        )
        .order_by(moysklad_task.c.run_after)
        .limit(1)
        .with_for_update(skip_locked=True)
        .cte("candidate")
    )
    return (
        await session.execute(
            sa.update(moysklad_task)
            .where(
                moysklad_task.c.account_id == candidate.c.account_id,
                moysklad_task.c.kind == candidate.c.kind,
            )
            .values(
                leased_until=sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds),
                attempts=moysklad_task.c.attempts + 1,
            )
            .returning(
                moysklad_task.c.account_id,
                moysklad_task.c.kind,
                moysklad_task.c.requested_at,
                moysklad_task.c.attempts,
            )
        )
    ).one_or_none()


async def complete(
    session: AsyncSession, account_id: uuid.UUID, kind: str, requested_at: datetime
) -> None:
    """Done: drop the row, unless it was requested again meanwhile (then run it once more)."""
    key = (moysklad_task.c.account_id == account_id, moysklad_task.c.kind == kind)
    deleted = await session.execute(
        sa.delete(moysklad_task).where(*key, moysklad_task.c.requested_at == requested_at)
    )
    if not getattr(deleted, "rowcount", 0):
        await session.execute(
            sa.update(moysklad_task)
            .where(*key)
            .values(leased_until=None, attempts=0, run_after=sa.func.now())
        )


async def reschedule(
    session: AsyncSession, account_id: uuid.UUID, kind: str, delay_seconds: float, error: str
) -> None:
    await session.execute(
        sa.update(moysklad_task)
        .where(moysklad_task.c.account_id == account_id, moysklad_task.c.kind == kind)
        .values(
            leased_until=None,
            run_after=sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, delay_seconds),
            last_error=error[:2000],
        )
    )


async def delete_for_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(sa.delete(moysklad_task).where(moysklad_task.c.account_id == account_id))


async def pending_kinds(session: AsyncSession, account_id: uuid.UUID) -> list[Any]:
    return list(
        await session.execute(
            sa.select(moysklad_task).where(moysklad_task.c.account_id == account_id)
        )
    )
