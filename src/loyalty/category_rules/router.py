"""Operator REST API for category rules (mounted under /api/v1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from loyalty.category_rules import service
from loyalty.category_rules.schemas import CategoryRule, Effect, Target
from loyalty.common.dependencies import NowDep
from loyalty.common.schemas import WireDecimal
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import AdminOperator, ReadOnlyOperator

router = APIRouter(tags=["program (operator API)"])


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=1000)

    target: Literal["folder", "product"]
    id: str
    earnPercent: Decimal | None = None
    noEarn: bool = False
    noSpend: bool = False


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[RuleIn] = Field(max_length=service.MAX_RULES)


class RuleOut(BaseModel):
    target: str
    id: str
    earnPercent: WireDecimal | None
    noEarn: bool
    noSpend: bool


class RulesOut(BaseModel):
    items: list[RuleOut]

    @classmethod
    def of(cls, rules: list[CategoryRule]) -> RulesOut:
        return cls(
            items=[
                RuleOut(
                    target=rule.target.value,
                    id=rule.target_id,
                    earnPercent=rule.effect.earn_percent,
                    noEarn=rule.effect.no_earn,
                    noSpend=rule.effect.no_spend,
                )
                for rule in rules
            ]
        )


@router.get("/program/category-rules", summary="Правила начисления по группам и товарам")
async def get_rules(session: SessionDep, operator: ReadOnlyOperator) -> RulesOut:
    return RulesOut.of(await service.list_rules(session, operator.account_id))


@router.put("/program/category-rules", summary="Заменить правила по группам и товарам")
async def put_rules(
    body: RulesIn, session: SessionDep, operator: AdminOperator, now: NowDep
) -> RulesOut:
    rules = await service.set_rules(
        session,
        operator.account_id,
        [
            CategoryRule(
                Target(item.target), item.id, Effect(item.earnPercent, item.noEarn, item.noSpend)
            )
            for item in body.items
        ],
        actor=operator.actor,
        now=now,
    )
    return RulesOut.of(rules)
