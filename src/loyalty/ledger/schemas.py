"""Internal (not wire) ledger types."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class TransactionKind(enum.StrEnum):
    sale = "sale"
    sales_return = "return"
    welcome = "welcome"
    adjustment = "adjustment"
    activation = "activation"
    expiry = "expiry"
    transfer = "transfer"
    merge = "merge"
    birthday = "birthday"


class Bucket(enum.StrEnum):
    available = "available"
    pending = "pending"
    debt = "debt"
    issued = "issued"
    redeemed = "redeemed"
    expired = "expired"
    adjustment = "adjustment"


@dataclass(frozen=True)
class Balance:
    """What a customer holds. `debt_points` are owed back after a return of spent points."""

    available_points: int
    pending_points: int
    debt_points: int
    next_maturity_at: datetime | None = None


@dataclass(frozen=True)
class Lot:
    id: int
    state: str
    remaining_points: int
    activates_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class LotTerms:
    activates_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Entry:
    bucket: Bucket
    amount_points: int
    customer_id: uuid.UUID | None


@dataclass(frozen=True)
class LotDraw:
    lot_id: int
    bucket: Bucket
    points: int


@dataclass(frozen=True)
class TransactionHeader:
    account_id: uuid.UUID
    kind: TransactionKind
    idempotency_key: str
    customer_id: uuid.UUID | None
    effective_at: datetime
    document_kind: str | None = None
    document_id: int | None = None
    reverses_transaction_id: int | None = None
    reason: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class Posting:
    """One balanced transaction: header, entries, lot draws and at most one new lot."""

    header: TransactionHeader
    entries: list[Entry]
    draws: list[LotDraw] = field(default_factory=list)
    new_lot_points: int = 0
    new_lot_terms: LotTerms | None = None
    new_lot_bucket: Bucket = Bucket.available


@dataclass(frozen=True)
class DocumentWrite:
    """The document's own write, carried in the posting's statement: the customer's lock is
    then held one round trip less. `sql` is one or more WITH items (`name AS (...)`, comma
    separated) on the document's own tables; they may read the new transaction's id as
    `(SELECT id FROM claimed)`. Its parameters share only `account_id` with the posting's."""

    sql: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class SalePostingResult:
    transaction_id: int | None
    spent_points: int
    earned_points: int
    debt_repaid_points: int
    balance: Balance


@dataclass(frozen=True)
class ReversalResult:
    transaction_id: int | None
    refunded_spent_points: int
    reclaimed_earned_points: int
    forgiven_expired_points: int
    debt_points: int
    balance: Balance


@dataclass(frozen=True)
class LedgerLine:
    transaction_id: int
    kind: str
    created_at: datetime
    effective_at: datetime
    bucket: str
    amount_points: int
    balance_after_points: int | None
    reason: str | None
    actor: str | None = None
    entry_id: int = 0
