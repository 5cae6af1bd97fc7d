"""Merchant accounts and the pending-token rotation pattern (spec §2.5).

A new token is saved as *pending* and both tokens work until the rotation is confirmed, so
the till never sees a 401 while MoySklad is still being told about the new token.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts import repository
from loyalty.accounts.cache import AccountCache
from loyalty.accounts.errors import MoySkladAccountTaken, NoPendingToken
from loyalty.accounts.schemas import AccountContext, CreatedAccount
from loyalty.accounts.tokens import generate_token, hash_token, token_matches
from loyalty.common.errors import InvalidRequest, Unauthorized
from loyalty.program import repository as program_repository
from loyalty.program.errors import AccountNotFound
from loyalty.tiers.repository import tiers_from_json


async def create_account(
    session: AsyncSession,
    *,
    name: str,
    moysklad_account_id: str | None = None,
    issue_token: bool = True,
) -> CreatedAccount:
    """A new account with default program settings. Without `issue_token` (installation from
    MoySklad) no till token exists until the merchant connects the program."""
    name = name.strip()
    if not name:
        raise InvalidRequest("Название аккаунта не может быть пустым", parameter="name")
    if moysklad_account_id is not None and await repository.find_by_moysklad_id(
        session, moysklad_account_id
    ):
        raise MoySkladAccountTaken(moysklad_account_id)
    account_id = uuid.uuid4()
    await repository.insert_account(session, account_id, name, moysklad_account_id)
    await program_repository.insert_defaults(session, account_id)
    token: str | None = None
    if issue_token:
        token = generate_token()
        await repository.insert_token(session, account_id, hash_token(token), "active")
    return CreatedAccount(account_id, name, moysklad_account_id, token)


async def _require_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    if await repository.get_account(session, account_id) is None:
        raise AccountNotFound(account_id)


async def issue_pending_token(session: AsyncSession, account_id: uuid.UUID) -> str:
    """Start a rotation. A previous unconfirmed token is dropped: only the newest is pending."""
    await _require_account(session, account_id)
    tokens = await repository.lock_tokens(session, account_id)
    await repository.set_token_state(
        session, account_id, [token.id for token in tokens if token.state == "pending"], "revoked"
    )
    token = generate_token()
    await repository.insert_token(session, account_id, hash_token(token), "pending")
    return token


async def confirm_pending_token(session: AsyncSession, account_id: uuid.UUID) -> None:
    """The new token reached MoySklad: promote it and retire the old one."""
    await _require_account(session, account_id)
    tokens = await repository.lock_tokens(session, account_id)
    pending = [token.id for token in tokens if token.state == "pending"]
    if not pending:
        raise NoPendingToken()
    await repository.set_token_state(
        session, account_id, [token.id for token in tokens if token.state == "active"], "revoked"
    )
    await repository.set_token_state(session, account_id, pending, "active")


async def discard_pending_token(session: AsyncSession, account_id: uuid.UUID) -> None:
    """MoySklad refused the new token: keep the old one."""
    await _require_account(session, account_id)
    tokens = await repository.lock_tokens(session, account_id)
    pending = [token.id for token in tokens if token.state == "pending"]
    if not pending:
        raise NoPendingToken()
    await repository.set_token_state(session, account_id, pending, "revoked")


async def revoke_all_tokens(session: AsyncSession, account_id: uuid.UUID) -> None:
    """The account left MoySklad: no till token, current or pending, works any more."""
    tokens = await repository.lock_tokens(session, account_id)
    await repository.set_token_state(session, account_id, [token.id for token in tokens], "revoked")


async def authenticate(
    session: AsyncSession, presented_token: str | None, cache: AccountCache | None = None
) -> AccountContext:
    if not presented_token or len(presented_token) > 256:
        raise Unauthorized()
    token_digest = hash_token(presented_token)
    generation = 0
    if cache is not None:
        cached = cache.lookup(token_digest)
        if cached is not None:
            return cached
        generation = cache.generation
    row = await repository.authenticate(session, token_digest)
    # The lookup is by digest; the constant-time check documents (and keeps) the guarantee
    # that no comparison of secret material can leak timing.
    if row is None or not token_matches(row.token_hash, presented_token):
        raise Unauthorized()
    context = AccountContext(
        account_id=row.account_id,
        token_id=row.token_id,
        program=program_repository.settings_from_row(row),
        tiers=tiers_from_json(row.tiers),
        has_category_rules=bool(row.has_category_rules),
    )
    if cache is not None:
        cache.store(token_digest, context, generation)
    return context
