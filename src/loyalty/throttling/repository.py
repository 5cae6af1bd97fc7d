"""Per-client counters in `client_throttle`: failed code look-ups and request rates."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import client_throttle


async def get(
    session: AsyncSession, account_id: uuid.UUID, scope: str, client_key: str
) -> Any | None:
    return (
        await session.execute(
            sa.select(client_throttle).where(
                client_throttle.c.account_id == account_id,
                client_throttle.c.scope == scope,
                client_throttle.c.client_key == client_key,
            )
        )
    ).one_or_none()


async def hit(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    scope: str,
    client_key: str,
    now: datetime,
    window: timedelta,
) -> Any:
    """Count one hit in the client's current window (a new window starts when it ran out)."""
    statement = pg_insert(client_throttle).values(
        account_id=account_id, scope=scope, client_key=client_key, window_started_at=now, hits=1
    )
    expired = client_throttle.c.window_started_at <= now - window
    return (
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["account_id", "scope", "client_key"],
                set_={
                    "hits": sa.case((expired, 1), else_=client_throttle.c.hits + 1),
                    "window_started_at": sa.case(
                        (expired, now), else_=client_throttle.c.window_started_at
                    ),
                },
            ).returning(
                client_throttle.c.hits,
                client_throttle.c.window_started_at,
                client_throttle.c.locked_until,
            )
        )
    ).one()


async def lock_out(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    scope: str,
    client_key: str,
    until: datetime,
) -> None:
    """Lock the client out and start counting afresh once the lock ends."""
    await session.execute(
        sa.update(client_throttle)
        .where(
            client_throttle.c.account_id == account_id,
            client_throttle.c.scope == scope,
            client_throttle.c.client_key == client_key,
        )
        .values(locked_until=until, hits=0, window_started_at=until)
    )


async def purge_stale(
    session: AsyncSession, window_started_before: datetime, now: datetime, limit: int
) -> int:
    """Delete up to `limit` counters whose window is long over and that lock nobody out: such a
    row counts the same as no row (the next hit starts a new window)."""
    stale = (
        sa.select(
            client_throttle.c.account_id, client_throttle.c.scope, client_throttle.c.client_key
        )
        .where(
            client_throttle.c.window_started_at < window_started_before,
            sa.or_(client_throttle.c.locked_until.is_(None), client_throttle.c.locked_until < now),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("stale")
    )
    result = await session.execute(
        sa.delete(client_throttle).where(
            client_throttle.c.account_id == stale.c.account_id,
            client_throttle.c.scope == stale.c.scope,
            client_throttle.c.client_key == stale.c.client_key,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
