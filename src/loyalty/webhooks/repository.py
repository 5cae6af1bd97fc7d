"""Webhook endpoints and the outbox (`webhook_delivery`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import webhook_delivery, webhook_endpoint

_LIVE = webhook_endpoint.c.deleted_at.is_(None)


def has_endpoints_clause(account_id: Any) -> sa.Exists:
    """EXISTS over the account's live endpoints, to fold into a statement already being sent."""
    return sa.exists().where(webhook_endpoint.c.account_id == account_id, _LIVE)


async def has_endpoints(session: AsyncSession, account_id: uuid.UUID) -> bool:
    return bool(await session.scalar(sa.select(has_endpoints_clause(account_id))))


async def insert_endpoint(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    url: str,
    secret_ciphertext: bytes,
    event_types: list[str],
    created_by: str,
) -> Any:
    return (
        await session.execute(
            sa.insert(webhook_endpoint)
            .values(
                account_id=account_id,
                url=url,
                secret_ciphertext=secret_ciphertext,
                event_types=event_types,
                created_by=created_by,
            )
            .returning(webhook_endpoint)
        )
    ).one()


async def list_endpoints(session: AsyncSession, account_id: uuid.UUID) -> list[Any]:
    return list(
        await session.execute(
            sa.select(webhook_endpoint)
            .where(webhook_endpoint.c.account_id == account_id, _LIVE)
            .order_by(webhook_endpoint.c.id)
        )
    )


async def delete_endpoint(
    session: AsyncSession, account_id: uuid.UUID, endpoint_id: int, now: datetime
) -> Any | None:
    """Soft delete (deliveries keep their endpoint); its undelivered events are cancelled."""
    row = (
        await session.execute(
            sa.update(webhook_endpoint)
            .where(
                webhook_endpoint.c.account_id == account_id,
                webhook_endpoint.c.id == endpoint_id,
                _LIVE,
            )
            .values(deleted_at=now)
            .returning(webhook_endpoint)
        )
    ).one_or_none()
    if row is not None:
        await session.execute(
            sa.update(webhook_delivery)
            .where(
                webhook_delivery.c.account_id == account_id,
                webhook_delivery.c.endpoint_id == endpoint_id,
                webhook_delivery.c.status == "pending",
            )
            .values(status="cancelled", leased_until=None)
        )
    return row


async def insert_event(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    event_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
    occurred_at: datetime,
) -> int:
    """One outbox row per live endpoint that wants the event type, in one statement."""
    endpoints = sa.select(
        webhook_endpoint.c.account_id,
        webhook_endpoint.c.id,
        sa.literal(event_id, sa.Uuid()),
        sa.literal(event_type, sa.Text()),
        sa.literal(payload, webhook_delivery.c.payload.type),
        sa.literal(occurred_at, sa.DateTime(timezone=True)),
    ).where(
        webhook_endpoint.c.account_id == account_id,
        _LIVE,
        sa.literal(event_type, sa.Text()) == sa.any_(webhook_endpoint.c.event_types),
    )
    result = await session.execute(
        sa.insert(webhook_delivery).from_select(
            ["account_id", "endpoint_id", "event_id", "event_type", "payload", "occurred_at"],
            endpoints,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def lease_due(session: AsyncSession, limit: int, lease_seconds: float) -> list[Any]:
    """Lease due rows nobody holds (SKIP LOCKED), so two workers never send one at once."""
    candidate = (
        sa.select(webhook_delivery.c.account_id, webhook_delivery.c.id)
        .where(
            webhook_delivery.c.status == "pending",
            webhook_delivery.c.next_attempt_at <= sa.func.now(),
            sa.or_(
                webhook_delivery.c.leased_until.is_(None),
                webhook_delivery.c.leased_until < sa.func.now(),
            ),
        )
        .order_by(webhook_delivery.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidate")
    )
    leased = (
        sa.update(webhook_delivery)
        .where(
            webhook_delivery.c.account_id == candidate.c.account_id,
            webhook_delivery.c.id == candidate.c.id,
        )
        .values(
            leased_until=sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds),
            attempts=webhook_delivery.c.attempts + 1,
        )
        .returning(
            webhook_delivery.c.account_id,
            webhook_delivery.c.id,
            webhook_delivery.c.endpoint_id,
            webhook_delivery.c.event_id,
            webhook_delivery.c.event_type,
            webhook_delivery.c.payload,
            webhook_delivery.c.occurred_at,
            webhook_delivery.c.attempts,
        )
        .cte("leased")
    )
    rows = await session.execute(
        sa.select(
            leased,
            webhook_endpoint.c.url,
            webhook_endpoint.c.secret_ciphertext,
        )
        .select_from(
            leased.join(
                webhook_endpoint,
                sa.and_(
                    webhook_endpoint.c.account_id == leased.c.account_id,
                    webhook_endpoint.c.id == leased.c.endpoint_id,
                ),
            )
        )
        .order_by(leased.c.id)
    )
    return list(rows)


async def mark_delivered(
    session: AsyncSession, account_id: uuid.UUID, delivery_id: int, status_code: int
) -> None:
    await session.execute(
        sa.update(webhook_delivery)
        .where(webhook_delivery.c.account_id == account_id, webhook_delivery.c.id == delivery_id)
        .values(
            status="delivered",
            leased_until=None,
            delivered_at=sa.func.now(),
            last_status_code=status_code,
            last_error=None,
        )
    )


async def mark_failed(
    session: AsyncSession,
    account_id: uuid.UUID,
    delivery_id: int,
    *,
    dead: bool,
    retry_in_seconds: float,
    status_code: int | None,
    error: str,
) -> None:
    await session.execute(
        sa.update(webhook_delivery)
        .where(
            webhook_delivery.c.account_id == account_id,
            webhook_delivery.c.id == delivery_id,
            webhook_delivery.c.status == "pending",
        )
        .values(
            status="dead" if dead else "pending",
            leased_until=None,
            next_attempt_at=sa.func.now()
            + sa.func.make_interval(0, 0, 0, 0, 0, 0, retry_in_seconds),
            last_status_code=status_code,
            last_error=error[:2000],
        )
    )


async def purge_finished(session: AsyncSession, created_before: datetime, limit: int) -> int:
    """Delete up to `limit` delivered, dead or cancelled rows created before the cutoff."""
    old = (
        sa.select(webhook_delivery.c.account_id, webhook_delivery.c.id)
        .where(
            webhook_delivery.c.status != "pending",
            webhook_delivery.c.created_at < created_before,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("old")
    )
    result = await session.execute(
        sa.delete(webhook_delivery).where(
            webhook_delivery.c.account_id == old.c.account_id,
            webhook_delivery.c.id == old.c.id,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def list_deliveries(
    session: AsyncSession, account_id: uuid.UUID, status: str | None, limit: int
) -> list[Any]:
    query = (
        sa.select(
            webhook_delivery.c.id,
            webhook_delivery.c.endpoint_id,
            webhook_delivery.c.event_id,
            webhook_delivery.c.event_type,
            webhook_delivery.c.status,
            webhook_delivery.c.attempts,
            webhook_delivery.c.next_attempt_at,
            webhook_delivery.c.last_status_code,
            webhook_delivery.c.last_error,
            webhook_delivery.c.created_at,
            webhook_delivery.c.delivered_at,
        )
        .where(webhook_delivery.c.account_id == account_id)
        .order_by(webhook_delivery.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(webhook_delivery.c.status == status)
    return list(await session.execute(query))


async def retry_dead(
    session: AsyncSession, account_id: uuid.UUID, delivery_ids: list[int] | None
) -> int:
    """Dead events of live endpoints go back to the queue with fresh attempts."""
    live_endpoint = sa.exists().where(
        webhook_endpoint.c.account_id == webhook_delivery.c.account_id,
        webhook_endpoint.c.id == webhook_delivery.c.endpoint_id,
        _LIVE,
    )
    statement = (
        sa.update(webhook_delivery)
        .where(
            webhook_delivery.c.account_id == account_id,
            webhook_delivery.c.status == "dead",
            live_endpoint,
        )
        .values(status="pending", attempts=0, next_attempt_at=sa.func.now(), leased_until=None)
    )
    if delivery_ids is not None:
        statement = statement.where(webhook_delivery.c.id.in_(delivery_ids))
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_all_endpoints(session: AsyncSession, account_id: uuid.UUID, now: datetime) -> int:
    """Soft-delete every endpoint of the account and cancel what it had still to send."""
    deleted = await session.execute(
        sa.update(webhook_endpoint)
        .where(webhook_endpoint.c.account_id == account_id, _LIVE)
        .values(deleted_at=now)
    )
    await session.execute(
        sa.update(webhook_delivery)
        .where(webhook_delivery.c.account_id == account_id, webhook_delivery.c.status == "pending")
        .values(status="cancelled", leased_until=None)
    )
    return int(getattr(deleted, "rowcount", 0) or 0)
