"""Enactor "Voucher Serial Number" POS API shapes (seed 004). Values are minor units."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loyalty.common.schemas import StrictFlag


class EnactorModel(BaseModel):
    """Enactor sends more than it documents; unknown fields are kept and echoed back."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, str_max_length=4096)


class RegionId(EnactorModel):
    groupTypeId: str | None = None
    groupHierarchyId: str | None = None
    groupId: str | None = None
    id: str | None = None


class VoucherTypeId(EnactorModel):
    regionId: RegionId | None = None
    voucherTypeId: str = Field(max_length=64)


class VoucherSerialNumberKey(EnactorModel):
    serialNumber: str = Field(min_length=1, max_length=64)
    voucherTypeId: VoucherTypeId | None = None


class IdRef(EnactorModel):
    id: str | None = Field(default=None, max_length=255)


class EnquiryRequest(EnactorModel):
    serialNumber: str = Field(min_length=1, max_length=64)
    voucherTypeId: VoucherTypeId


class MatchingEnquiryRequest(EnactorModel):
    regionId: RegionId | None = None
    serialNumber: str = Field(min_length=1, max_length=64)
    removeExpiredVoucherSerialNumbers: StrictFlag = False


class UpdateRequest(EnactorModel):
    voucherSerialNumberKey: VoucherSerialNumberKey
    voucherTypeId: VoucherTypeId | None = None
    voucherValue: int = Field(ge=0, le=10**13)
    newStatus: str = Field(max_length=32)
    newIssueDate: int | None = Field(default=None, ge=0)
    currencyId: str = Field(min_length=3, max_length=3)
    allowCreate: StrictFlag = False

    @property
    def type_id(self) -> VoucherTypeId | None:
        return self.voucherSerialNumberKey.voucherTypeId or self.voucherTypeId


class TrackedUpdateRequest(UpdateRequest):
    transactionId: str = Field(min_length=1, max_length=255)
    basketLineNumber: int = Field(ge=0, le=10**9)
    updateStatus: str = Field(max_length=32)
    locationId: IdRef | None = None
    userId: IdRef | None = None


Outcome = dict[str, str]


def outcome(name: str) -> Outcome:
    return {"name": name}


def echo(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)
