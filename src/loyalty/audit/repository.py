"""Audit log storage (append-only: a trigger refuses updates and deletes)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit.schemas import AuditEvent
from loyalty.models import audit_log


def _values(event: AuditEvent) -> dict[str, Any]:
    return {
        "account_id": event.account_id,
        "occurred_at": event.occurred_at,
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "retail_store_id": event.retail_store_id,
        "document": event.document,
    }


async def insert_many(session: AsyncSession, events: list[AuditEvent]) -> None:
    if events:
        await session.execute(sa.insert(audit_log), [_values(event) for event in events])


async def page(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    entity_type: str | None,
    entity_id: str | None,
    action: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    conditions = [audit_log.c.account_id == account_id]
    if entity_type is not None:
        conditions.append(audit_log.c.entity_type == entity_type)
    if entity_id is not None:
        conditions.append(audit_log.c.entity_id == entity_id)
    if action is not None:
        conditions.append(audit_log.c.action == action)
    rows = await session.execute(
        sa.select(audit_log)
        .where(*conditions)
        .order_by(audit_log.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.execute(
        sa.select(sa.func.count()).select_from(audit_log).where(*conditions)
    )
    return list(rows), int(total.scalar_one())
