"""Operator API keys over the API, for admins (mounted under /api/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from loyalty.common.dependencies import NowDep
from loyalty.db.session import SessionDep
from loyalty.operators import service
from loyalty.operators.dependencies import AdminOperator
from loyalty.operators.schemas import KeyInfo, Role

router = APIRouter(tags=["operator keys (operator API)"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "operator", "read-only"]


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    keyPrefix: str
    createdAt: datetime
    revokedAt: datetime | None

    @classmethod
    def of(cls, key: KeyInfo) -> KeyOut:
        return cls(
            id=key.id,
            name=key.name,
            role=key.role.value,
            keyPrefix=key.key_prefix,
            createdAt=key.created_at,
            revokedAt=key.revoked_at,
        )


class KeyCreated(BaseModel):
    id: int
    name: str
    role: str
    key: str = Field(description="Shown once; only its SHA-256 digest is stored.")


class KeyList(BaseModel):
    items: list[KeyOut]


@router.get("/operator-keys", summary="Ключи операторов")
async def list_keys(session: SessionDep, operator: AdminOperator) -> KeyList:
    keys = await service.list_keys(session, operator.account_id)
    return KeyList(items=[KeyOut.of(key) for key in keys])


@router.post("/operator-keys", status_code=201, summary="Выпустить ключ оператора")
async def create_key(
    body: KeyCreate, session: SessionDep, operator: AdminOperator, now: NowDep
) -> KeyCreated:
    issued = await service.create_key(
        session,
        account_id=operator.account_id,
        role=Role(body.role),
        name=body.name,
        actor=operator.actor,
        now=now,
    )
    return KeyCreated(id=issued.id, name=issued.name, role=issued.role.value, key=issued.key)


@router.post("/operator-keys/{key_id}/revoke", summary="Отозвать ключ оператора")
async def revoke_key(
    key_id: int, session: SessionDep, operator: AdminOperator, now: NowDep
) -> KeyOut:
    key = await service.revoke_key(
        session, account_id=operator.account_id, key_id=key_id, actor=operator.actor, now=now
    )
    return KeyOut.of(key)
