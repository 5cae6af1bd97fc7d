"""Till authentication: `Lognex-Discount-API-Auth-Token` on every LoyaltyAPI call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from loyalty.accounts import service as accounts_service
from loyalty.accounts.schemas import AccountContext
from loyalty.db.session import SessionDep
from loyalty.observability.context import bind_account

TOKEN_HEADER = "Lognex-Discount-API-Auth-Token"

till_token = APIKeyHeader(name=TOKEN_HEADER, auto_error=False, scheme_name="TillToken")


async def authenticate_till(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(till_token)]
) -> AccountContext:
    context = await accounts_service.authenticate(session, token, request.app.state.account_cache)
    bind_account(context.account_id)
    return context


CurrentAccount = Annotated[AccountContext, Depends(authenticate_till)]
