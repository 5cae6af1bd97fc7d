"""LoyaltyAPI sale bodies (spec §1.5). Roubles with 2 decimals, quantities with 3."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema

from loyalty.common.money import has_at_most_decimals
from loyalty.common.schemas import EchoModel, Meta, RetailStoreRef, WireDecimal, WireModel

MAX_QUANTITY = Decimal("1000000")
MAX_PRICE = Decimal("1000000000")
MAX_POINTS = Decimal("1000000000000")


# Clients serialising doubles may send 0.30000000000000004 for 0.3: noise this small is rounded
# to the documented scale; anything beyond it is a real extra decimal and refused.
_FLOAT_NOISE = Decimal("1e-9")


def _to_scale(value: Decimal, places: int, message: str) -> Decimal:
    if has_at_most_decimals(value, places):
        return value
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if abs(value - rounded) <= _FLOAT_NOISE:
        return rounded
    raise ValueError(message)


def check_quantity(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError("Количество должно быть больше нуля")
    if value > MAX_QUANTITY:
        raise ValueError("Количество слишком велико")
    value = _to_scale(value, 3, "Количество — не более 3 знаков после запятой")
    if value <= 0:
        raise ValueError("Количество должно быть больше нуля")
    return value


def check_money(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError("Сумма не может быть отрицательной")
    if value > MAX_PRICE:
        raise ValueError("Сумма слишком велика")
    return _to_scale(value, 2, "Сумма — не более 2 знаков после запятой")


def check_points(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value < 0:
        raise ValueError("Количество баллов не может быть отрицательным")
    if value > MAX_POINTS:
        raise ValueError("Количество баллов слишком велико")
    return value


# The published schema states the wire contract (numbers with these bounds); the validators
# above enforce it with messages a cashier can read. The scale is stated in words, not as
# `multipleOf`: tills send binary floats, and 4.529999999999999 is a price of 4.53.
Quantity = Annotated[
    Decimal,
    AfterValidator(check_quantity),
    WithJsonSchema(
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1000000,
            "description": "At most 3 decimals; binary floating-point noise is rounded.",
        }
    ),
]
Money = Annotated[
    Decimal,
    AfterValidator(check_money),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "maximum": 1000000000,
            "description": "At most 2 decimals; binary floating-point noise is rounded.",
        }
    ),
]
Points = Annotated[
    Decimal | None,
    AfterValidator(check_points),
    WithJsonSchema({"type": ["number", "null"], "minimum": 0, "maximum": 1000000000000}),
]


def check_percent(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0 or value > 100:
        raise ValueError("Процент скидки должен быть от 0 до 100")
    return value


Percent = Annotated[
    Decimal,
    AfterValidator(check_percent),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100}),
]


class AgentRef(EchoModel):
    """The customer as MoySklad sends it; echoed back unchanged in the recalc answer."""

    meta: Meta | None = None
    name: str | None = Field(default=None, max_length=1000)
    discountCardNumber: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255)
    legalFirstName: str | None = Field(default=None, max_length=255)
    legalMiddleName: str | None = Field(default=None, max_length=255)
    legalLastName: str | None = Field(default=None, max_length=255)
    birthDate: str | None = Field(default=None, max_length=64)
    sex: str | None = Field(default=None, max_length=16)

    @property
    def reference(self) -> str | None:
        if self.meta and self.meta.id and self.meta.id.strip():
            return self.meta.id.strip()
        return None


class Assortment(EchoModel):
    meta: Meta | None = None
    syncId: str | None = Field(default=None, max_length=255)

    @property
    def assortment_id(self) -> str | None:
        if self.meta and self.meta.id:
            return self.meta.id
        return self.syncId


class PositionIn(WireModel):
    assortment: Assortment
    quantity: Quantity
    price: Money
    sn: list[EchoModel] | None = Field(default=None, max_length=100_000)
    pack: EchoModel | None = None


class RecalcBonusProgram(WireModel):
    transactionType: Literal["EARNING", "SPENDING"] = "EARNING"
    preferredBonusToSpend: Points = None


class RecalcRequest(WireModel):
    retailStore: RetailStoreRef | None = None
    agent: AgentRef | None = None
    positions: list[PositionIn] = Field(min_length=1)
    bonusProgram: RecalcBonusProgram | None = None
    preferredBonusToSpend: Points = None

    @property
    def spending(self) -> bool:
        return self.bonusProgram is not None and self.bonusProgram.transactionType == "SPENDING"

    @property
    def preferred_points(self) -> Decimal | None:
        """Top level per the docs; some integrations put it in `bonusProgram` (spec §4.6)."""
        if self.preferredBonusToSpend is not None:
            return self.preferredBonusToSpend
        return self.bonusProgram.preferredBonusToSpend if self.bonusProgram else None


class PositionOut(WireModel):
    assortment: Assortment
    quantity: WireDecimal
    price: WireDecimal
    discountPercent: WireDecimal
    discountedPrice: WireDecimal
    sn: list[EchoModel] | None = None
    pack: EchoModel | None = None


class RecalcBonusProgramOut(WireModel):
    transactionType: Literal["EARNING", "SPENDING"]
    agentBonusBalance: int
    bonusValueToSpend: int
    bonusValueToEarn: int
    agentBonusBalanceAfter: int
    paidByBonusPoints: WireDecimal
    receiptExtraInfo: str


class RecalcResponse(WireModel):
    agent: AgentRef | None = None
    positions: list[PositionOut]
    bonusProgram: RecalcBonusProgramOut
    needVerification: bool


class SalePositionIn(WireModel):
    assortment: Assortment
    quantity: Quantity
    price: Money
    discountPercent: Percent | None = None
    discountedPrice: Money | None = None

    @property
    def paid_price(self) -> Decimal:
        return self.price if self.discountedPrice is None else self.discountedPrice


class SaleBonusProgram(WireModel):
    bonusValueToSpend: Points = None
    bonusValueToEarn: Points = None


class GiftCardPayment(WireModel):
    id: str = Field(max_length=255)
    name: str = Field(max_length=255)
    paymentSum: int = Field(ge=0, le=10**13)


class SaleCreate(WireModel):
    retailStore: RetailStoreRef | None = None
    name: str | None = Field(default=None, max_length=255)
    moment: str | None = Field(default=None, max_length=64)
    meta: Meta | None = None
    agent: AgentRef | None = None
    positions: list[SalePositionIn] = Field(min_length=1)
    bonusProgram: SaleBonusProgram | None = None
    cashSum: Money | None = None
    noCashSum: Money | None = None
    giftCards: list[GiftCardPayment] | None = Field(default=None, max_length=100)

    @property
    def document_id(self) -> str | None:
        if self.meta and self.meta.id and self.meta.id.strip():
            return self.meta.id.strip()
        return None


class SpendCodeRequest(WireModel):
    retailStore: RetailStoreRef | None = None
    counterpartyId: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=255)
