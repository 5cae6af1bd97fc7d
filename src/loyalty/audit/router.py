"""The audit log, read-only, for operators (mounted under /api/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from loyalty.audit import service
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import ReadOnlyOperator

router = APIRouter(tags=["audit (operator API)"])


class AuditOut(BaseModel):
    id: int
    occurredAt: datetime
    actor: str
    action: str
    entityType: str
    entityId: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    retailStoreId: str | None
    document: str | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    count: int
    offset: int
    total: int


@router.get("/audit", summary="Журнал изменений")
async def audit_log(
    session: SessionDep,
    operator: ReadOnlyOperator,
    entity_type: Annotated[str | None, Query(alias="entityType", max_length=64)] = None,
    entity_id: Annotated[str | None, Query(alias="entityId", max_length=255)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    count: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    records, total = await service.history(
        session,
        operator.account_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        limit=count,
        offset=offset,
    )
    return AuditPage(
        items=[
            AuditOut(
                id=record.id,
                occurredAt=record.occurred_at,
                actor=record.actor,
                action=record.action,
                entityType=record.entity_type,
                entityId=record.entity_id,
                before=record.before,
                after=record.after,
                retailStoreId=record.retail_store_id,
                document=record.document,
            )
            for record in records
        ],
        count=count,
        offset=offset,
        total=total,
    )
