"""Writing and reading the audit log. Services call `record` in the same transaction as the
change it describes, so a change and its audit row commit (or roll back) together."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit import repository
from loyalty.audit.schemas import AuditEvent, AuditRecord


async def record(session: AsyncSession, *events: AuditEvent) -> None:
    await repository.insert_many(session, list(events))


async def history(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditRecord], int]:
    rows, total = await repository.page(
        session,
        account_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        limit=limit,
        offset=offset,
    )
    return [
        AuditRecord(
            id=row.id,
            occurred_at=row.occurred_at,
            actor=row.actor,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            before=row.before,
            after=row.after,
            retail_store_id=row.retail_store_id,
            document=row.document,
        )
        for row in rows
    ], total
