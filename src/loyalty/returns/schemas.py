"""LoyaltyAPI return body (spec §1.6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema

from loyalty.common.schemas import EchoModel, Meta, RetailStoreRef, WireModel
from loyalty.sales.schemas import Money, SalePositionIn


def _non_negative_amount(value: Decimal | None) -> Decimal | None:
    if value is not None and (not value.is_finite() or value < 0 or value > Decimal("1e13")):
        raise ValueError("Сумма должна быть неотрицательным числом")
    return value


# `noCashSum` of a return is documented in kopecks, `cashSum` in roubles (spec §1.6): both are
# stored as sent and never used for points, so their unit cannot cost anyone money.
LooseAmount = Annotated[
    Decimal | None,
    AfterValidator(_non_negative_amount),
    WithJsonSchema({"type": ["number", "null"], "minimum": 0, "maximum": 10000000000000}),
]


class ReturnAgent(EchoModel):
    """`{href, id}` per the docs (a 2021 design slip), or `{meta: {href, id}}` like elsewhere."""

    href: str | None = Field(default=None, max_length=2048)
    id: str | None = Field(default=None, max_length=255)
    meta: Meta | None = None

    @property
    def reference(self) -> str | None:
        for candidate in (self.id, self.meta.id if self.meta else None):
            if candidate and candidate.strip():
                return candidate.strip()
        return None


class DemandRef(WireModel):
    meta: Meta | None = None

    @property
    def sale_id(self) -> str | None:
        if self.meta and self.meta.id and self.meta.id.strip():
            return self.meta.id.strip()
        return None


class SalesReturnCreate(WireModel):
    retailStore: RetailStoreRef | None = None
    name: str | None = Field(default=None, max_length=255)
    moment: str | None = Field(default=None, max_length=64)
    meta: Meta | None = None
    demand: DemandRef | None = None
    agent: ReturnAgent | None = None
    positions: list[SalePositionIn] = Field(min_length=1)
    cashSum: Money | None = None
    noCashSum: LooseAmount = None

    @property
    def document_id(self) -> str | None:
        if self.meta and self.meta.id and self.meta.id.strip():
            return self.meta.id.strip()
        return None
