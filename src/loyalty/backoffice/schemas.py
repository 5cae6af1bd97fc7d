"""Back-office wire models (operator API, camelCase)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loyalty.backoffice.service import CustomerView
from loyalty.common.schemas import WireDecimal
from loyalty.customers.service import decrypt_phone
from loyalty.ledger.schemas import Balance, LedgerLine
from loyalty.program.errors import InvalidProgramSetting
from loyalty.program.schemas import ProgramSettings

MAX_POINTS = 1_000_000_000


class BalanceOut(BaseModel):
    availablePoints: int
    pendingPoints: int
    debtPoints: int

    @classmethod
    def of(cls, balance: Balance) -> BalanceOut:
        return cls(
            availablePoints=balance.available_points,
            pendingPoints=balance.pending_points,
            debtPoints=balance.debt_points,
        )


class CustomerOut(BaseModel):
    id: uuid.UUID
    msId: str | None
    syncId: str | None
    status: Literal["active", "blocked", "merged", "erased"]
    mergedIntoId: uuid.UUID | None
    name: str | None
    phone: str | None
    email: str | None
    cardNumber: str | None
    legalFirstName: str | None
    legalMiddleName: str | None
    legalLastName: str | None
    birthDate: date | None
    sex: Literal["MALE", "FEMALE"] | None
    verified: bool
    createdAt: datetime
    updatedAt: datetime
    balance: BalanceOut

    @classmethod
    def of(cls, customer: CustomerView) -> CustomerOut:
        row = customer.row
        return cls(
            id=row.id,
            msId=row.moysklad_id,
            syncId=row.sync_id,
            status=row.status,
            mergedIntoId=row.merged_into_id,
            name=row.name,
            phone=decrypt_phone(row),
            email=row.email,
            cardNumber=row.card_number,
            legalFirstName=row.legal_first_name,
            legalMiddleName=row.legal_middle_name,
            legalLastName=row.legal_last_name,
            birthDate=row.birth_date,
            sex=row.sex,
            verified=row.verified,
            createdAt=row.created_at,
            updatedAt=row.updated_at,
            balance=BalanceOut.of(customer.balance),
        )


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    nextCursor: uuid.UUID | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


class CustomerPatch(BaseModel):
    """Only the fields present change; null clears a field."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=254)
    cardNumber: str | None = Field(default=None, min_length=1, max_length=64)
    legalFirstName: str | None = Field(default=None, max_length=255)
    legalMiddleName: str | None = Field(default=None, max_length=255)
    legalLastName: str | None = Field(default=None, max_length=255)
    birthDate: date | None = None
    sex: Literal["MALE", "FEMALE"] | None = None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duplicateId: uuid.UUID = Field(description="The customer folded into this one and closed.")
    reason: str | None = Field(default=None, max_length=500)


class MergeOut(BaseModel):
    customer: CustomerOut
    replayed: bool


class ReplaceCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cardNumber: str = Field(min_length=1, max_length=64)


class LedgerLineOut(BaseModel):
    entryId: int
    transactionId: int
    kind: str
    bucket: Literal["available", "pending", "debt"]
    amountPoints: int
    balanceAfterPoints: int | None
    effectiveAt: datetime
    createdAt: datetime
    reason: str | None
    actor: str | None

    @classmethod
    def of(cls, line: LedgerLine) -> LedgerLineOut:
        return cls(
            entryId=line.entry_id,
            transactionId=line.transaction_id,
            kind=line.kind,
            bucket=line.bucket,
            amountPoints=line.amount_points,
            balanceAfterPoints=line.balance_after_points,
            effectiveAt=line.effective_at,
            createdAt=line.created_at,
            reason=line.reason,
            actor=line.actor,
        )


class LedgerPage(BaseModel):
    items: list[LedgerLineOut]
    nextCursor: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class AdjustmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(
        ge=-MAX_POINTS, le=MAX_POINTS, description="Positive credits, negative debits; not 0."
    )
    reason: str = Field(min_length=1, max_length=500)


class AdjustmentOut(BaseModel):
    customerId: uuid.UUID
    transactionId: int | None
    points: int
    replayed: bool
    balance: BalanceOut


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fromCustomerId: uuid.UUID
    toCustomerId: uuid.UUID
    points: int = Field(gt=0, le=MAX_POINTS)
    reason: str = Field(min_length=1, max_length=500)


class TransferOut(BaseModel):
    transactionId: int | None
    points: int
    replayed: bool
    fromBalance: BalanceOut
    toBalance: BalanceOut


class ProgramOut(BaseModel):
    earn_percent: WireDecimal
    max_spend_percent: WireDecimal
    earn_on_spend: bool
    activation_delay_days: int
    expiry_days: int | None
    welcome_bonus_points: int
    verify_registration: bool
    verify_spend_above_points: int | None
    auto_enroll: bool
    receipt_text: str
    restore_gift_cards_on_return: bool
    apply_personal_vouchers: bool
    voucher_stacking: Literal["stack", "exclusive"]
    version: int

    @classmethod
    def of(cls, program: ProgramSettings) -> ProgramOut:
        return cls.model_validate(program, from_attributes=True)


class ProgramUpdate(BaseModel):
    """The settings to change (names as in `loyalty program set`); absent ones stay."""

    model_config = ConfigDict(extra="forbid")

    earn_percent: WireDecimal | None = None
    max_spend_percent: WireDecimal | None = None
    earn_on_spend: bool | None = None
    activation_delay_days: int | None = None
    expiry_days: int | None = None
    welcome_bonus_points: int | None = None
    verify_registration: bool | None = None
    verify_spend_above_points: int | None = None
    auto_enroll: bool | None = None
    receipt_text: str | None = None
    restore_gift_cards_on_return: bool | None = None
    apply_personal_vouchers: bool | None = None
    voucher_stacking: str | None = None


# Settings where null is a value ("no expiry", "never ask for a code"), not "leave as is".
NULLABLE_PROGRAM_FIELDS = {"expiry_days", "verify_spend_above_points"}


def program_changes(body: ProgramUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in NULLABLE_PROGRAM_FIELDS:
            raise InvalidProgramSetting("Значение не может быть пустым", parameter=name)
    return changes


class ExportedCustomer(BaseModel):
    """Every stored field of the customer, personal ones decrypted."""

    id: str
    moysklad_id: str | None
    sync_id: str | None
    status: str
    merged_into_id: str | None
    name: str | None
    phone: str | None
    email: str | None
    card_number: str | None
    legal_first_name: str | None
    legal_middle_name: str | None
    legal_last_name: str | None
    birth_date: str | None
    sex: str | None
    verified: bool
    created_at: str
    updated_at: str


class ExportedRetiredCard(BaseModel):
    """A card number the customer held before a replacement (never given out again)."""

    cardNumber: str
    retiredAt: str


class ExportedLedgerLine(BaseModel):
    entryId: int
    transactionId: int
    kind: str
    bucket: str
    amountPoints: int
    balanceAfterPoints: int | None
    effectiveAt: str
    createdAt: str
    reason: str | None


class ExportOut(BaseModel):
    exportedAt: str
    customer: ExportedCustomer
    retiredCards: list[ExportedRetiredCard]
    balance: BalanceOut
    ledger: list[ExportedLedgerLine]
    vouchers: list[dict[str, Any]]
    sales: list[dict[str, Any]]
    returns: list[dict[str, Any]]
    audit: list[dict[str, Any]]
