"""Operator REST API for tiers (mounted under /api/v1): admins change, read-only keys read."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from loyalty.common.dependencies import NowDep
from loyalty.common.schemas import WireDecimal
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import AdminOperator, ReadOnlyOperator
from loyalty.tiers import service
from loyalty.tiers.schemas import Tier

router = APIRouter(tags=["program (operator API)"])


class TierIn(BaseModel):
    # Ranges are checked by the service, which names the offending item in Russian.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=1000)

    name: str
    thresholdMinor: int
    earnPercent: Decimal
    maxSpendPercent: Decimal


class TiersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    windowMonths: int = 12
    items: list[TierIn] = Field(max_length=1000)


class TierOut(BaseModel):
    name: str
    thresholdMinor: int
    earnPercent: WireDecimal
    maxSpendPercent: WireDecimal


class TiersOut(BaseModel):
    windowMonths: int
    items: list[TierOut]

    @classmethod
    def of(cls, program: service.TierProgram) -> TiersOut:
        return cls(
            windowMonths=program.window_months,
            items=[
                TierOut(
                    name=tier.name,
                    thresholdMinor=tier.threshold_minor,
                    earnPercent=tier.earn_percent,
                    maxSpendPercent=tier.max_spend_percent,
                )
                for tier in program.tiers
            ],
        )


@router.get("/program/tiers", summary="Уровни программы")
async def get_tiers(session: SessionDep, operator: ReadOnlyOperator) -> TiersOut:
    return TiersOut.of(await service.get_tier_program(session, operator.account_id))


@router.put("/program/tiers", summary="Заменить уровни программы")
async def put_tiers(
    body: TiersIn, session: SessionDep, operator: AdminOperator, now: NowDep
) -> TiersOut:
    program = await service.set_tier_program(
        session,
        operator.account_id,
        window_months=body.windowMonths,
        tiers=[
            Tier(item.name, item.thresholdMinor, item.earnPercent, item.maxSpendPercent)
            for item in body.items
        ],
        actor=operator.actor,
        now=now,
    )
    return TiersOut.of(program)


class TierChangeOut(BaseModel):
    # Field names as in the history table's JSON (`from` is a keyword in Python).
    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from")
    to: str | None
    reason: str
    windowTotalMinor: int
    at: str


class CustomerTierOut(BaseModel):
    customerId: str
    windowMonths: int
    windowTotalMinor: int
    tier: str | None
    nextTier: str | None
    toNextTierMinor: int | None
    storedTier: str | None
    history: list[TierChangeOut]


@router.get("/customers/{customer}/tier", summary="Уровень покупателя и история его изменений")
async def customer_tier(
    customer: Annotated[str, Path(max_length=255)],
    session: SessionDep,
    operator: ReadOnlyOperator,
    now: NowDep,
) -> CustomerTierOut:
    view = await service.customer_view(session, operator.account_id, customer, now)
    standing = view.standing
    following = standing.next_tier
    return CustomerTierOut(
        customerId=str(view.customer_id),
        windowMonths=view.window_months,
        windowTotalMinor=standing.window_total_minor,
        tier=standing.tier.name if standing.tier is not None else None,
        nextTier=following.name if following is not None else None,
        toNextTierMinor=following.threshold_minor - standing.window_total_minor
        if following is not None
        else None,
        storedTier=view.stored_tier,
        history=[TierChangeOut.model_validate(item) for item in view.history],
    )
