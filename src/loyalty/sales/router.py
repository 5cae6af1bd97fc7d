"""LoyaltyAPI sale endpoints (spec §1.5)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loyalty.auth.dependencies import CurrentAccount
from loyalty.common.dependencies import NowDep, SenderDep, SettingsDep
from loyalty.customers.schemas import VerificationResponse
from loyalty.db.session import SessionDep, read_only
from loyalty.sales import service
from loyalty.sales.schemas import RecalcRequest, RecalcResponse, SaleCreate, SpendCodeRequest

router = APIRouter(prefix="/retaildemand", tags=["sales"])

REPLAY_HEADER = "Idempotency-Replayed"


@router.post("/recalc", response_model_exclude_none=True, summary="Расчёт скидок и баллов для чека")
@read_only
async def recalc(
    body: RecalcRequest,
    session: SessionDep,
    context: CurrentAccount,
    now: NowDep,
    settings: SettingsDep,
) -> RecalcResponse:
    return await service.quote_sale(session, context, body, now=now, settings=settings)


@router.post("/verify", summary="Код подтверждения списания баллов")
async def spend_code(
    body: SpendCodeRequest,
    session: SessionDep,
    context: CurrentAccount,
    now: NowDep,
    settings: SettingsDep,
    sender: SenderDep,
) -> VerificationResponse:
    issued = await service.request_spend_code(
        session, context, body, now=now, settings=settings, sender=sender
    )
    return VerificationResponse(
        verificationCode=issued.code,
        timeForRepeat=issued.time_for_repeat_seconds,
        messageForCashier=issued.message_for_cashier,
    )


@router.post("", status_code=201, response_class=Response, summary="Проведение продажи")
async def create_sale(
    body: SaleCreate,
    session: SessionDep,
    context: CurrentAccount,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    outcome = await service.confirm_sale(session, context, body, now=now, settings=settings)
    headers = {REPLAY_HEADER: "true"} if outcome.replayed else {}
    return Response(status_code=201, headers=headers)
