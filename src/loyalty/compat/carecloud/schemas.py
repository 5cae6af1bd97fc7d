"""CareCloud "Get vouchers tied to a purchase" shapes (seed 003)."""

from __future__ import annotations

from pydantic import BaseModel


class Reward(BaseModel):
    reward_id: str
    code: str
    name: str


class PurchaseVoucher(BaseModel):
    voucher_id: str
    customer_id: str
    store_id: str | None
    code: str
    value: float
    applied_date: str | None
    valid_from: str | None
    valid_to: str | None
    reward_group: str
    note: str | None
    reward: Reward
    created_date: str
    last_change: str
    state: int


class PurchaseVouchers(BaseModel):
    vouchers: list[PurchaseVoucher]
    total_items: int


class PurchaseVouchersResponse(BaseModel):
    data: PurchaseVouchers
