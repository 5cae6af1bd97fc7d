"""LoyaltyAPI customer bodies (spec §1.4)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import Field, field_validator

from loyalty.common.schemas import Meta, RetailStoreRef, WireModel

_SYNC_ID_IN_HREF = re.compile(r"/syncid/([^/?#]+)")

DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d")


def parse_birth_date(value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError("Дата рождения должна быть в формате ГГГГ-ММ-ДД ЧЧ:ММ:СС")


def sync_id_from_href(href: str | None) -> str | None:
    if not href:
        return None
    match = _SYNC_ID_IN_HREF.search(href)
    return match.group(1) if match else None


class CustomerFields(WireModel):
    name: str | None = Field(default=None, max_length=1000)
    discountCardNumber: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255)
    legalFirstName: str | None = Field(default=None, max_length=255)
    legalMiddleName: str | None = Field(default=None, max_length=255)
    legalLastName: str | None = Field(default=None, max_length=255)
    birthDate: str | None = Field(default=None, max_length=64)
    sex: Literal["MALE", "FEMALE"] | None = None

    @field_validator("birthDate")
    @classmethod
    def _birth_date_format(cls, value: str | None) -> str | None:
        parse_birth_date(value)
        return value

    @property
    def birth_date(self) -> date | None:
        return parse_birth_date(self.birthDate)


class CounterpartyBody(CustomerFields):
    """Body of POST /counterparty, /counterparty/detail and /counterparty/verify."""

    retailStore: RetailStoreRef | None = None
    meta: Meta | None = None
    syncId: str | None = Field(default=None, max_length=255)
    statusCheck: Literal["UNCHECKED", "CHECKED", "IGNORE"] | None = None

    @property
    def moysklad_id(self) -> str | None:
        if self.meta and self.meta.id and self.meta.id.strip():
            return self.meta.id.strip()
        return None

    @property
    def sync_id(self) -> str | None:
        if self.syncId and self.syncId.strip():
            return self.syncId.strip()
        return sync_id_from_href(self.meta.href if self.meta else None)


class CustomerRow(WireModel):
    """One row of GET /counterparty; `id` is ours (a UUID), `msId` only when known."""

    id: str
    msId: str | None = None
    name: str
    discountCardNumber: str | None = None
    phone: str | None = None
    email: str | None = None
    legalFirstName: str | None = None
    legalMiddleName: str | None = None
    legalLastName: str | None = None
    birthDate: str | None = None
    sex: str | None = None


class CustomerSearchResponse(WireModel):
    rows: list[CustomerRow]


class BonusBalance(WireModel):
    agentBonusBalance: int


class CustomerBalanceResponse(WireModel):
    bonusProgram: BonusBalance


class VerificationResponse(WireModel):
    verificationCode: str
    timeForRepeat: int
    messageForCashier: str
