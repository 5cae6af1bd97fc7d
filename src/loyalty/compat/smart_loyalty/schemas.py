"""Smart Loyalty voucher shapes (seed 000): save vouchers, voucher list.

Amounts are whole currency units (Smart Loyalty counts tögrög without minor units); we store
minor units, so 5000 is 500 000 kopecks of the batch currency. `expireDate` is `YYYY/MM/DD`,
the voucher being valid through that day (UTC).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SmartModel(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, str_max_length=4096)


class VoucherIn(SmartModel):
    id: str = Field(min_length=1, max_length=64)
    customerPkId: str | int | None = None
    voucherGroupId: str = Field(min_length=1, max_length=64)
    percent: int = Field(default=0, ge=0, le=100)
    amount: int = Field(default=0, ge=0, le=10**11)
    password: str | int | None = None
    expireDate: str | None = Field(default=None, max_length=32)
    usageCount: int | None = Field(default=None, ge=0, le=1_000_000_000)
    hasBalance: Literal["Y", "N", "y", "n", ""] | None = None
    maxUsePercent: int | None = Field(default=None, ge=0, le=100)


class SaveVoucherRequest(SmartModel):
    Voucher: list[VoucherIn] = Field(min_length=1, max_length=1000)


class Envelope(BaseModel):
    """Smart Loyalty answers every call in this envelope."""

    Success: bool = True
    Message: str | None = None
    ErrorCode: int | None = None
    ExceptionType: str | None = None
    Data: dict[str, Any] | None = None
