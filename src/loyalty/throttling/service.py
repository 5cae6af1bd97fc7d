"""Lockout after repeated failed code look-ups, and per-client request rates.

Both live in PostgreSQL, so every worker process sees the same counters. A failed look-up is
counted in the request's own transaction, which is committed even though the request answers
with an error (the errors raised here and the look-up errors set `keeps_changes`).
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.config import Settings
from loyalty.throttling import repository
from loyalty.throttling.errors import RateLimited, TooManyFailedLookups

CODE_LOOKUP = "code_lookup"
RATE_LIMIT = "rate_limit"


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


async def check_lockout(
    session: AsyncSession, *, account_id: uuid.UUID, client_key: str, now: datetime
) -> None:
    """Refuse (429) a client that is locked out; a plain read, no lock taken."""
    row = await repository.get(session, account_id, CODE_LOOKUP, client_key)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        raise TooManyFailedLookups(_seconds_until(row.locked_until, now))


async def record_failed_lookup(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    client_key: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Count a failed look-up; the one that reaches the limit locks the client out (429)."""
    row = await repository.hit(
        session,
        account_id=account_id,
        scope=CODE_LOOKUP,
        client_key=client_key,
        now=now,
        window=timedelta(seconds=settings.CODE_LOOKUP_WINDOW_SECONDS),
    )
    if row.hits >= settings.CODE_LOOKUP_MAX_FAILURES:
        until = now + timedelta(seconds=settings.CODE_LOOKUP_LOCKOUT_SECONDS)
        await repository.lock_out(
            session, account_id=account_id, scope=CODE_LOOKUP, client_key=client_key, until=until
        )
        raise TooManyFailedLookups(_seconds_until(until, now))


async def count_request(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    client_key: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Fixed-window rate limit per client; over the limit → 429 with the seconds left."""
    window = timedelta(seconds=settings.COMPAT_RATE_LIMIT_WINDOW_SECONDS)
    row = await repository.hit(
        session,
        account_id=account_id,
        scope=RATE_LIMIT,
        client_key=client_key,
        now=now,
        window=window,
    )
    if row.hits > settings.COMPAT_RATE_LIMIT_REQUESTS:
        raise RateLimited(_seconds_until(row.window_started_at + window, now))
