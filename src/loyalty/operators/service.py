"""Operator API keys: issue (shown once), list, revoke, authenticate. Every change is audited."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts.tokens import token_matches
from loyalty.audit import service as audit_service
from loyalty.audit.schemas import AuditEvent
from loyalty.operators import repository
from loyalty.operators.errors import InvalidKeyName, OperatorKeyNotFound, OperatorUnauthorized
from loyalty.operators.schemas import IssuedKey, KeyInfo, OperatorContext, Role
from loyalty.operators.tokens import display_prefix, generate_key, hash_token
from loyalty.program import service as program_service

MAX_KEY_LENGTH = 256


async def create_key(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    role: Role,
    name: str,
    actor: str,
    now: datetime,
) -> IssuedKey:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidKeyName()
    await program_service.get_settings(session, account_id)  # the account must exist
    key = generate_key()
    key_id = await repository.insert_key(
        session,
        account_id=account_id,
        name=name,
        role=role.value,
        key_hash=hash_token(key),
        key_prefix=display_prefix(key),
        created_by=actor,
    )
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor,
            action="operator_key.create",
            entity_type="operator_key",
            entity_id=str(key_id),
            occurred_at=now,
            after={"name": name, "role": role.value, "key_prefix": display_prefix(key)},
        ),
    )
    return IssuedKey(key_id, account_id, name, role, key)


async def list_keys(session: AsyncSession, account_id: uuid.UUID) -> list[KeyInfo]:
    return [
        KeyInfo(row.id, row.name, Role(row.role), row.key_prefix, row.created_at, row.revoked_at)
        for row in await repository.list_keys(session, account_id)
    ]


async def revoke_key(
    session: AsyncSession, *, account_id: uuid.UUID, key_id: int, actor: str, now: datetime
) -> KeyInfo:
    row = await repository.revoke(session, account_id, key_id, now)
    if row is None:
        raise OperatorKeyNotFound(key_id)
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor,
            action="operator_key.revoke",
            entity_type="operator_key",
            entity_id=str(key_id),
            occurred_at=now,
            after={"revoked_at": row.revoked_at.isoformat()},
        ),
    )
    return KeyInfo(row.id, row.name, Role(row.role), row.key_prefix, row.created_at, row.revoked_at)


async def authenticate(session: AsyncSession, presented_key: str | None) -> OperatorContext:
    if not presented_key or len(presented_key) > MAX_KEY_LENGTH:
        raise OperatorUnauthorized()
    row = await repository.authenticate(session, hash_token(presented_key))
    if row is None or not token_matches(row.key_hash, presented_key):
        raise OperatorUnauthorized()
    return OperatorContext(row.account_id, row.id, row.name, Role(row.role))
