"""LoyaltyAPI return endpoint (spec §1.6)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loyalty.auth.dependencies import CurrentAccount
from loyalty.common.dependencies import NowDep, SettingsDep
from loyalty.db.session import SessionDep
from loyalty.returns import service
from loyalty.returns.schemas import SalesReturnCreate
from loyalty.sales.router import REPLAY_HEADER

router = APIRouter(prefix="/retailsalesreturn", tags=["returns"])


@router.post("", status_code=201, response_class=Response, summary="Проведение возврата")
async def create_return(
    body: SalesReturnCreate,
    session: SessionDep,
    context: CurrentAccount,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    outcome = await service.record_return(session, context, body, now=now, settings=settings)
    headers = {REPLAY_HEADER: "true"} if outcome.replayed else {}
    return Response(status_code=201, headers=headers)
