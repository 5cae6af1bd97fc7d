"""Revenue Monster "Get Voucher By Code" shapes (seed 002). Amounts in cents (minor units)."""

from __future__ import annotations

from pydantic import BaseModel


class Expiry(BaseModel):
    type: str
    day: int
    expiredAt: str


class VoucherItem(BaseModel):
    key: str
    label: str
    redemptionRuleKey: str | None
    voucherBatchKey: str
    type: str
    amount: int
    discountRate: int
    minimumSpendAmount: int
    origin: str
    imageUrl: str
    memberProfile: str | None
    redemptionRule: str | None
    assignedAt: str
    payload: str | None
    qrUrl: str
    code: str
    isShipping: bool
    address: str | None
    expiry: Expiry
    usedAt: str
    redeemedAt: str
    isDeviceRedeem: bool
    status: str
    createdAt: str
    updatedAt: str


class VoucherResponse(BaseModel):
    item: VoucherItem
    code: str = "SUCCESS"
