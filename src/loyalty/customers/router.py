"""LoyaltyAPI customer endpoints (spec §1.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from loyalty.auth.dependencies import CurrentAccount
from loyalty.common.dependencies import NowDep, SenderDep, SettingsDep
from loyalty.customers import service
from loyalty.customers.schemas import (
    BonusBalance,
    CounterpartyBody,
    CustomerBalanceResponse,
    CustomerSearchResponse,
    VerificationResponse,
)
from loyalty.db.session import SessionDep

router = APIRouter(prefix="/counterparty", tags=["customers"])


@router.post("", status_code=201, response_class=Response, summary="Создание покупателя")
async def create_customer(
    body: CounterpartyBody, session: SessionDep, context: CurrentAccount, now: NowDep
) -> Response:
    await service.register_customer(session, context, body, now)
    return Response(status_code=201)


@router.get("", response_model_exclude_none=True, summary="Поиск покупателя")
async def search_customers(
    session: SessionDep,
    context: CurrentAccount,
    settings: SettingsDep,
    retail_store_id: Annotated[str | None, Query(alias="retailStoreId", max_length=255)] = None,
    search: Annotated[str, Query(max_length=255)] = "",
) -> CustomerSearchResponse:
    rows = await service.search_customers(
        session, context, search, retail_store_id, settings.SEARCH_RESULT_LIMIT
    )
    return CustomerSearchResponse(rows=rows)


@router.post("/detail", summary="Баланс баллов покупателя")
async def customer_balance(
    body: CounterpartyBody, session: SessionDep, context: CurrentAccount, now: NowDep
) -> CustomerBalanceResponse:
    points = await service.get_available_balance(session, context, body, now)
    return CustomerBalanceResponse(bonusProgram=BonusBalance(agentBonusBalance=points))


@router.post("/verify", summary="Код подтверждения регистрации")
async def registration_code(
    body: CounterpartyBody,
    session: SessionDep,
    context: CurrentAccount,
    now: NowDep,
    settings: SettingsDep,
    sender: SenderDep,
) -> VerificationResponse:
    issued = await service.request_registration_code(
        session, context, body, now=now, settings=settings, sender=sender
    )
    return VerificationResponse(
        verificationCode=issued.code,
        timeForRepeat=issued.time_for_repeat_seconds,
        messageForCashier=issued.message_for_cashier,
    )
