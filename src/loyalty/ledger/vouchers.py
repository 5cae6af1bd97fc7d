"""The only writer of the voucher ledger (balances, uses and status of vouchers).

Rules every function here keeps, like the points ledger:
- rows are locked in one fixed order before anything is decided: the customer's balance (by
  the caller, through `ledger.service.lock_customer`), then vouchers, then the batches with a
  use limit, each class sorted by id, so concurrent tills never deadlock (the per-customer
  usage rows the trigger updates come last);
- every change is one append-only movement with a unique idempotency key; PostgreSQL applies
  it to the voucher (trigger) and refuses overdrafts, overuse and impossible transitions;
- services never commit: the request (or command) that called us owns the transaction.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.db.errors import constraint_name, is_check_violation
from loyalty.ledger import voucher_repository as repository
from loyalty.ledger.errors import LedgerKeyReused, VoucherUsageLimitReached
from loyalty.webhooks import service as webhooks


class MovementKind(enum.StrEnum):
    issue = "issue"
    opening = "import"
    redeem = "redeem"
    refund = "refund"
    adjust = "adjust"
    void = "void"
    expire = "expire"


@dataclass(frozen=True)
class Movement:
    voucher_id: uuid.UUID
    batch_id: uuid.UUID
    kind: MovementKind
    amount_minor: int
    uses_delta: int
    idempotency_key: str
    occurred_at: datetime
    applied_minor: int | None = None
    customer_id: uuid.UUID | None = None
    sale_id: int | None = None
    return_id: int | None = None
    retail_store_id: str | None = None
    document: str | None = None
    actor: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PostedMovement:
    id: int
    balance_after_minor: int
    used_count_after: int
    replayed: bool


async def lock(
    session: AsyncSession, account_id: uuid.UUID, voucher_ids: Iterable[uuid.UUID]
) -> list[Any]:
    """Lock the vouchers, then their batches that have a use limit (each in id order);
    returns the voucher rows (with batch code and name)."""
    rows = await repository.lock_vouchers(session, account_id, voucher_ids)
    if rows:
        webhooks.remember_flag(session, account_id, bool(rows[0].account_has_webhooks))
    await repository.lock_limited_batches(session, account_id, [row.batch_id for row in rows])
    return rows


async def find(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID, idempotency_key: str
) -> Any | None:
    """The movement posted for a voucher under a key, if any."""
    return await repository.find_movement(
        session, account_id, stored_key(voucher_id, idempotency_key)
    )


def stored_key(voucher_id: uuid.UUID, idempotency_key: str) -> str:
    """Keys are scoped to their voucher: the voucher's row lock then serialises every post
    under one key, which is what makes the conflict check below race-free."""
    return f"{voucher_id}:{idempotency_key}"


def _values(account_id: uuid.UUID, movement: Movement) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "voucher_id": movement.voucher_id,
        "batch_id": movement.batch_id,
        "kind": movement.kind.value,
        "amount_minor": movement.amount_minor,
        "uses_delta": movement.uses_delta,
        "idempotency_key": stored_key(movement.voucher_id, movement.idempotency_key),
        "applied_minor": movement.applied_minor,
        "customer_id": movement.customer_id,
        "sale_id": movement.sale_id,
        "return_id": movement.return_id,
        "retail_store_id": movement.retail_store_id,
        "document": movement.document,
        "actor": movement.actor,
        "reason": movement.reason,
        "occurred_at": movement.occurred_at,
    }


LIMIT_CONSTRAINTS = frozenset(
    {"ck_voucher_batch_used_within_limit", "voucher_customer_usage_limit"}
)


async def post(
    session: AsyncSession,
    account_id: uuid.UUID,
    movement: Movement,
    *,
    batch_limited: bool = False,
    parameter: str | None = None,
) -> PostedMovement:
    """Post one movement; a replay of the same key and content changes nothing.

    When the batch limits uses (`batch_limited`), the use counts are raised by the trigger
    under row locks, and the one use too many is refused there; the insert then runs in a
    savepoint so that refusal becomes a clean error instead of an aborted transaction."""
    values = _values(account_id, movement)
    if batch_limited and movement.uses_delta > 0:
        try:
            async with session.begin_nested():
                row = await repository.insert_movement(session, values)
        except IntegrityError as error:
            if is_check_violation(error) and constraint_name(error) in LIMIT_CONSTRAINTS:
                raise VoucherUsageLimitReached(parameter) from error
            raise
    else:
        row = await repository.insert_movement(session, values)
    if row is not None:
        if movement.kind is MovementKind.redeem:
            await _emit_redeemed(session, account_id, movement, row.balance_after_minor)
        return PostedMovement(row.id, row.balance_after_minor, row.used_count_after, False)
    stored = await repository.find_movement(session, account_id, values["idempotency_key"])
    assert stored is not None
    if (stored.voucher_id, stored.kind, stored.amount_minor, stored.uses_delta) != (
        movement.voucher_id,
        movement.kind.value,
        movement.amount_minor,
        movement.uses_delta,
    ):
        raise LedgerKeyReused(movement.idempotency_key)
    return PostedMovement(stored.id, stored.balance_after_minor, stored.used_count_after, True)


async def _emit_redeemed(
    session: AsyncSession, account_id: uuid.UUID, movement: Movement, balance_after_minor: int
) -> None:
    """`voucher.redeemed`, in the redemption's transaction. Locking the voucher (always done
    before it moves) already told whether the account has webhooks, so this costs no query."""
    if not await webhooks.account_has_endpoints(session, account_id):
        return
    await webhooks.emit(
        session,
        account_id,
        "voucher.redeemed",
        {
            "voucherId": str(movement.voucher_id),
            "batchId": str(movement.batch_id),
            "redeemedMinor": -movement.amount_minor,
            "usesDelta": movement.uses_delta,
            "balanceAfterMinor": balance_after_minor,
            "customerId": str(movement.customer_id) if movement.customer_id else None,
            "retailStoreId": movement.retail_store_id,
            "document": movement.document,
        },
        occurred_at=movement.occurred_at,
    )


async def post_many(
    session: AsyncSession, account_id: uuid.UUID, movements: list[Movement]
) -> None:
    """Post movements of vouchers created in this transaction (imports): their keys are new."""
    if movements:
        await repository.insert_movements(
            session, [_values(account_id, movement) for movement in movements]
        )


async def issue_range(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    batch_id: uuid.UUID,
    first_serial: int,
    last_serial: int,
    actor: str | None,
    occurred_at: datetime,
) -> int:
    """Issue a freshly generated serial range in one statement; returns how many were issued.
    The vouchers are new in this transaction, so nobody else can hold them."""
    await repository.lock_limited_batches(session, account_id, [batch_id])
    return await repository.issue_serial_range(
        session,
        account_id=account_id,
        batch_id=batch_id,
        first_serial=first_serial,
        last_serial=last_serial,
        actor=actor,
        occurred_at=occurred_at,
    )
