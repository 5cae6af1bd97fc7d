"""Voucher types: internal views (frozen dataclasses) and the operator API's wire shapes."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from loyalty.common.schemas import IsoDateTime, StrictFlag, WireDecimal


class VoucherType(enum.StrEnum):
    """GIFT: a gift certificate, stored value paid as tender (MoySklad `giftCards[]`).
    DISCOUNT: a percentage off a receipt. CASH: a fixed amount off a receipt (optionally a
    balance drawn down over several uses, Smart Loyalty's `hasBalance`)."""

    gift = "GIFT"
    discount = "DISCOUNT"
    cash = "CASH"


class VoucherStatus(enum.StrEnum):
    new = "NEW"
    issued = "ISSUED"
    redeemed = "REDEEMED"
    void = "VOID"
    expired = "EXPIRED"


class ExpiryType(enum.StrEnum):
    none = "NONE"
    fixed = "FIXED"
    dynamic = "DYNAMIC"


class Stacking(enum.StrEnum):
    """How a personal voucher and points share a receipt."""

    stack = "stack"
    exclusive = "exclusive"


@dataclass(frozen=True)
class BatchView:
    id: uuid.UUID
    account_id: uuid.UUID
    code: str
    name: str
    voucher_type: VoucherType
    currency: str
    face_value_minor: int | None
    discount_percent: Decimal | None
    has_balance: bool
    min_spend_minor: int
    max_use_percent: Decimal | None
    uses_per_voucher: int | None
    usage_limit: int | None
    per_customer_limit: int | None
    used_count: int
    expiry_type: ExpiryType
    expires_at: datetime | None
    expiry_days: int | None
    code_length: int
    code_alphabet: str
    code_prefix: str
    note: str | None
    created_at: datetime


@dataclass(frozen=True)
class VoucherView:
    id: uuid.UUID
    account_id: uuid.UUID
    batch_id: uuid.UUID
    batch_code: str
    batch_name: str
    batch_limited: bool  # the batch limits uses overall or per customer
    serial_number: int
    code: str
    voucher_type: VoucherType
    currency: str
    face_value_minor: int | None
    discount_percent: Decimal | None
    has_balance: bool
    min_spend_minor: int
    max_use_percent: Decimal | None
    usage_limit: int | None
    pin_protected: bool
    customer_id: uuid.UUID | None
    origin: str
    note: str | None
    valid_from: datetime | None
    expires_at: datetime | None
    issued_at: datetime | None
    status: VoucherStatus
    balance_minor: int
    initial_balance_minor: int
    used_count: int
    version: int
    last_used_at: datetime | None
    status_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MovementView:
    id: int
    voucher_id: uuid.UUID
    code: str
    kind: str
    amount_minor: int
    uses_delta: int
    applied_minor: int | None
    balance_after_minor: int | None
    used_count_after: int | None
    customer_id: uuid.UUID | None
    sale_id: int | None
    return_id: int | None
    retail_store_id: str | None
    document: str | None
    actor: str | None
    reason: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class VoucherChoice:
    """The voucher a receipt gets, and the discount it gives (kopecks)."""

    voucher: VoucherView
    discount_minor: int


@dataclass(frozen=True)
class Page:
    count: int
    offset: int
    sort: str
    descending: bool


# Operator API wire shapes (/api/v1). Amounts are integer minor units (kopecks).


class OperatorModel(BaseModel):
    """Operator request bodies: unknown fields are refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=4096)


class OutModel(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)


Percent = Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)]
MinorUnits = Annotated[int, Field(ge=0, le=10**13)]


class ExpiryIn(OperatorModel):
    type: Literal["NONE", "FIXED", "DYNAMIC"] = "NONE"
    expiresAt: IsoDateTime | None = None
    days: int | None = Field(default=None, ge=1, le=36500)


class CodeFormatIn(OperatorModel):
    length: int = Field(default=12, ge=6, le=32)
    alphabet: str = Field(default="23456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_length=10, max_length=64)
    prefix: str = Field(default="", max_length=8)


class BatchCreate(OperatorModel):
    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=64)
    type: Literal["GIFT", "DISCOUNT", "CASH"]
    currency: str = Field(default="RUB", min_length=3, max_length=3)
    faceValueMinor: int | None = Field(default=None, ge=1, le=10**13)
    discountPercent: Percent | None = None
    hasBalance: StrictFlag | None = None
    minSpendMinor: MinorUnits = 0
    maxUsePercent: Percent | None = None
    usesPerVoucher: int | None = Field(default=None, ge=1, le=1_000_000_000)
    usageLimit: int | None = Field(default=None, ge=1, le=1_000_000_000)
    perCustomerLimit: int | None = Field(default=None, ge=1, le=1_000_000_000)
    expiry: ExpiryIn = Field(default_factory=ExpiryIn)
    codeFormat: CodeFormatIn = Field(default_factory=CodeFormatIn)
    note: str | None = Field(default=None, max_length=2000)


class ExpiryOut(OutModel):
    type: str
    expiresAt: datetime | None
    days: int | None


class CodeFormatOut(OutModel):
    length: int
    alphabet: str
    prefix: str


class BatchOut(OutModel):
    id: uuid.UUID
    code: str
    name: str
    type: str
    currency: str
    faceValueMinor: int | None
    discountPercent: WireDecimal | None
    hasBalance: bool
    minSpendMinor: int
    maxUsePercent: WireDecimal | None
    usesPerVoucher: int | None
    usageLimit: int | None
    perCustomerLimit: int | None
    usedCount: int
    expiry: ExpiryOut
    codeFormat: CodeFormatOut
    note: str | None
    createdAt: datetime
    vouchersByStatus: dict[str, int] | None = None

    @classmethod
    def of(cls, batch: BatchView, counts: dict[str, int] | None = None) -> BatchOut:
        return cls(
            id=batch.id,
            code=batch.code,
            name=batch.name,
            type=batch.voucher_type.value,
            currency=batch.currency,
            faceValueMinor=batch.face_value_minor,
            discountPercent=batch.discount_percent,
            hasBalance=batch.has_balance,
            minSpendMinor=batch.min_spend_minor,
            maxUsePercent=batch.max_use_percent,
            usesPerVoucher=batch.uses_per_voucher,
            usageLimit=batch.usage_limit,
            perCustomerLimit=batch.per_customer_limit,
            usedCount=batch.used_count,
            expiry=ExpiryOut(
                type=batch.expiry_type.value, expiresAt=batch.expires_at, days=batch.expiry_days
            ),
            codeFormat=CodeFormatOut(
                length=batch.code_length, alphabet=batch.code_alphabet, prefix=batch.code_prefix
            ),
            note=batch.note,
            createdAt=batch.created_at,
            vouchersByStatus=counts,
        )


class BatchList(OutModel):
    items: list[BatchOut]


class GenerateRequest(OperatorModel):
    count: int = Field(ge=1, le=1_000_000)
    issue: StrictFlag = False


class VoucherCreate(OperatorModel):
    """Register a code made elsewhere (printed cards, another system) in a batch."""

    code: str = Field(min_length=1, max_length=64)
    issue: StrictFlag = True
    customer: str | None = Field(default=None, max_length=255)
    faceValueMinor: int | None = Field(default=None, ge=1, le=10**13)
    expiresAt: IsoDateTime | None = None
    validFrom: IsoDateTime | None = None
    pin: str | None = Field(default=None, min_length=1, max_length=32)
    note: str | None = Field(default=None, max_length=2000)


class GenerationOut(OutModel):
    batchId: uuid.UUID
    count: int
    firstSerial: int
    lastSerial: int
    issued: bool
    replayed: bool


class VoucherOut(OutModel):
    id: uuid.UUID
    code: str
    serialNumber: int
    batchId: uuid.UUID
    batchCode: str
    batchName: str
    type: str
    currency: str
    status: str
    faceValueMinor: int | None
    discountPercent: WireDecimal | None
    hasBalance: bool
    balanceMinor: int
    initialBalanceMinor: int
    usedCount: int
    usageLimit: int | None
    minSpendMinor: int
    maxUsePercent: WireDecimal | None
    pinProtected: bool
    customerId: uuid.UUID | None
    origin: str
    note: str | None
    validFrom: datetime | None
    expiresAt: datetime | None
    issuedAt: datetime | None
    lastUsedAt: datetime | None
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def of(cls, voucher: VoucherView, status: VoucherStatus) -> VoucherOut:
        return cls(
            id=voucher.id,
            code=voucher.code,
            serialNumber=voucher.serial_number,
            batchId=voucher.batch_id,
            batchCode=voucher.batch_code,
            batchName=voucher.batch_name,
            type=voucher.voucher_type.value,
            currency=voucher.currency,
            status=status.value,
            faceValueMinor=voucher.face_value_minor,
            discountPercent=voucher.discount_percent,
            hasBalance=voucher.has_balance,
            balanceMinor=voucher.balance_minor,
            initialBalanceMinor=voucher.initial_balance_minor,
            usedCount=voucher.used_count,
            usageLimit=voucher.usage_limit,
            minSpendMinor=voucher.min_spend_minor,
            maxUsePercent=voucher.max_use_percent,
            pinProtected=voucher.pin_protected,
            customerId=voucher.customer_id,
            origin=voucher.origin,
            note=voucher.note,
            validFrom=voucher.valid_from,
            expiresAt=voucher.expires_at,
            issuedAt=voucher.issued_at,
            lastUsedAt=voucher.last_used_at,
            createdAt=voucher.created_at,
            updatedAt=voucher.updated_at,
        )


class VoucherPage(OutModel):
    items: list[VoucherOut]
    count: int
    offset: int
    total: int


class IssueRequest(OperatorModel):
    customer: str | None = Field(
        default=None,
        max_length=255,
        description="Our id, MoySklad id, syncId, card number or phone of the customer.",
    )
    expiresAt: IsoDateTime | None = None


class VoidRequest(OperatorModel):
    reason: str | None = Field(default=None, max_length=1000)


class AdjustRequest(OperatorModel):
    amountMinor: int = Field(ge=-(10**13), le=10**13)
    reason: str = Field(min_length=1, max_length=1000)


class VoucherPatch(OperatorModel):
    expiresAt: IsoDateTime | None = None
    validFrom: IsoDateTime | None = None
    note: str | None = Field(default=None, max_length=2000)


class AdjustOut(OutModel):
    voucher: VoucherOut
    replayed: bool


class MovementOut(OutModel):
    id: int
    kind: str
    amountMinor: int
    usesDelta: int
    appliedMinor: int | None
    balanceAfterMinor: int | None
    usedCountAfter: int | None
    customerId: uuid.UUID | None
    saleId: int | None
    returnId: int | None
    retailStoreId: str | None
    document: str | None
    actor: str | None
    reason: str | None
    occurredAt: datetime

    @classmethod
    def of(cls, movement: MovementView) -> MovementOut:
        return cls(
            id=movement.id,
            kind=movement.kind,
            amountMinor=movement.amount_minor,
            usesDelta=movement.uses_delta,
            appliedMinor=movement.applied_minor,
            balanceAfterMinor=movement.balance_after_minor,
            usedCountAfter=movement.used_count_after,
            customerId=movement.customer_id,
            saleId=movement.sale_id,
            returnId=movement.return_id,
            retailStoreId=movement.retail_store_id,
            document=movement.document,
            actor=movement.actor,
            reason=movement.reason,
            occurredAt=movement.occurred_at,
        )


class MovementList(OutModel):
    items: list[MovementOut]


class SaleVoucherOut(OutModel):
    voucher: VoucherOut
    amountMinor: int
    uses: int
    appliedAt: datetime
    retailStoreId: str | None


class SaleVoucherPage(OutModel):
    items: list[SaleVoucherOut]
    count: int
    offset: int
    total: int
