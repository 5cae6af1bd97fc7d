"""Accounts and till tokens."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import account, api_token, category_rule, program_settings
from loyalty.tiers.repository import tiers_json_column


async def insert_account(
    session: AsyncSession, account_id: uuid.UUID, name: str, moysklad_account_id: str | None
) -> None:
    await session.execute(
        sa.insert(account).values(id=account_id, name=name, moysklad_account_id=moysklad_account_id)
    )


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Any | None:
    return (
        await session.execute(sa.select(account).where(account.c.id == account_id))
    ).one_or_none()


async def find_by_moysklad_id(session: AsyncSession, moysklad_account_id: str) -> Any | None:
    return (
        await session.execute(
            sa.select(account).where(account.c.moysklad_account_id == moysklad_account_id)
        )
    ).one_or_none()


async def list_accounts(session: AsyncSession) -> list[Any]:
    return list(await session.execute(sa.select(account).order_by(account.c.created_at)))


async def insert_token(
    session: AsyncSession, account_id: uuid.UUID, token_hash: bytes, state: str
) -> int:
    result = await session.execute(
        sa.insert(api_token)
        .values(
            account_id=account_id,
            token_hash=token_hash,
            state=state,
            confirmed_at=sa.func.now() if state == "active" else None,
        )
        .returning(api_token.c.id)
    )
    return int(result.scalar_one())


async def lock_tokens(session: AsyncSession, account_id: uuid.UUID) -> list[Any]:
    return list(
        await session.execute(
            sa.select(api_token.c.id, api_token.c.state)
            .where(api_token.c.account_id == account_id, api_token.c.state != "revoked")
            .order_by(api_token.c.id)
            .with_for_update()
        )
    )


async def set_token_state(
    session: AsyncSession, account_id: uuid.UUID, token_ids: list[int], state: str
) -> None:
    if not token_ids:
        return
    values: dict[str, Any] = {"state": state}
    if state == "revoked":
        values["revoked_at"] = sa.func.now()
    if state == "active":
        values["confirmed_at"] = sa.func.now()
    await session.execute(
        sa.update(api_token)
        .where(api_token.c.account_id == account_id, api_token.c.id.in_(token_ids))
        .values(**values)
    )


# Built once: the statement and its cache key are reused by every till request, so a request
# pays only for binding the digest (building it per call cost more CPU than the round trip).
_AUTHENTICATE = (
    sa.select(
        api_token.c.id.label("token_id"),
        api_token.c.token_hash,
        program_settings,
        tiers_json_column(account.c.id).label("tiers"),
        sa.exists().where(category_rule.c.account_id == account.c.id).label("has_category_rules"),
    )
    .select_from(
        api_token.join(account, account.c.id == api_token.c.account_id).join(
            program_settings, program_settings.c.account_id == account.c.id
        )
    )
    .where(
        api_token.c.token_hash == sa.bindparam("token_hash"),
        api_token.c.state.in_(("active", "pending")),
        account.c.status == "active",
    )
)


async def authenticate(session: AsyncSession, token_hash: bytes) -> Any | None:
    """One indexed round trip: the token, its active account and the program settings."""
    return (await session.execute(_AUTHENTICATE, {"token_hash": token_hash})).one_or_none()


async def set_status(session: AsyncSession, account_id: uuid.UUID, status: str) -> None:
    """'active' lets the tills in; 'suspended' and 'uninstalled' shut them out at once."""
    await session.execute(
        sa.update(account)
        .where(account.c.id == account_id)
        .values(status=status, updated_at=sa.func.now())
    )


async def lock_account(session: AsyncSession, account_id: uuid.UUID) -> Any | None:
    return (
        await session.execute(
            sa.select(account).where(account.c.id == account_id).with_for_update()
        )
    ).one_or_none()
