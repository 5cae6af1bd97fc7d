"""Back office: operators look after customers and their points.

Every change is recorded in the audit log in the same transaction, with the operator key as
actor. Personal values never enter the audit log in clear (it is append-only and survives an
erasure), only masked. Points move only through `loyalty.ledger.service`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit import service as audit_service
from loyalty.audit.schemas import AuditEvent
from loyalty.backoffice import repository
from loyalty.backoffice.errors import (
    CardRetired,
    CardTaken,
    CustomerClosed,
    CustomerNotFound,
    InvalidCustomerField,
    PointsOverdraft,
    SameCustomer,
)
from loyalty.common import crypto
from loyalty.common.phones import mask_phone, normalise_phone, phone_lookup_key
from loyalty.common.schemas import decimal_as_json_number
from loyalty.customers import repository as customers_repository
from loyalty.customers.repository import PERSONAL_COLUMNS
from loyalty.customers.service import decrypt_phone, phone_columns
from loyalty.ledger import events as ledger_events
from loyalty.ledger import repository as ledger_repository
from loyalty.ledger import service as ledger_service
from loyalty.ledger.errors import InsufficientPoints
from loyalty.ledger.schemas import Balance, LedgerLine, TransactionKind
from loyalty.program import service as program_service
from loyalty.program.rules import immediate_terms
from loyalty.program.schemas import ProgramSettings
from loyalty.webhooks import service as webhooks_service

CLOSED = ("merged", "erased")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OLDEST_BIRTH_DATE = date(1900, 1, 1)


@dataclass(frozen=True)
class CustomerView:
    row: Any
    balance: Balance


@dataclass(frozen=True)
class PointsChange:
    transaction_id: int | None
    replayed: bool
    balances: dict[uuid.UUID, Balance]


def _mask(text: str | None) -> str | None:
    if text is None:
        return None
    return text[0] + "***" + text[-2:] if len(text) > 4 else "***"


def snapshot(row: Any) -> dict[str, Any]:
    """A customer as the audit log may keep it: status in clear, personal values masked."""
    return {
        "status": row.status,
        "mergedIntoId": str(row.merged_into_id) if row.merged_into_id else None,
        "name": _mask(row.name),
        "phone": mask_phone(decrypt_phone(row)) if row.phone_ciphertext else None,
        "email": _mask(row.email),
        "cardNumber": _mask(row.card_number),
        "legalName": _mask(
            " ".join(
                part
                for part in (row.legal_last_name, row.legal_first_name, row.legal_middle_name)
                if part
            )
            or None
        ),
        "birthDate": "***" if row.birth_date else None,
        "sex": "***" if row.sex else None,
    }


def _event(
    account_id: uuid.UUID,
    actor: str,
    action: str,
    entity_id: uuid.UUID,
    now: datetime,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEvent:
    return AuditEvent(
        account_id=account_id,
        actor=actor,
        action=action,
        entity_type="customer",
        entity_id=str(entity_id),
        occurred_at=now,
        before=before,
        after=after,
    )


def _balance_json(balance: Balance) -> dict[str, int]:
    return {
        "availablePoints": balance.available_points,
        "pendingPoints": balance.pending_points,
        "debtPoints": balance.debt_points,
    }


async def _balance(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, now: datetime
) -> Balance:
    balance = await ledger_service.read_balance(session, account_id, customer_id, now)
    return balance if balance is not None else Balance(0, 0, 0)


async def _require(session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID) -> Any:
    row = await repository.get(session, account_id, customer_id)
    if row is None:
        raise CustomerNotFound(customer_id)
    return row


async def _lock(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_ids: list[uuid.UUID],
    *,
    exclusive: bool,
    parameters: dict[uuid.UUID, str] | None = None,
) -> dict[uuid.UUID, Any]:
    rows = await repository.lock(session, account_id, customer_ids, exclusive=exclusive)
    for customer_id in customer_ids:
        if customer_id not in rows:
            raise CustomerNotFound(customer_id, (parameters or {}).get(customer_id, "customer_id"))
    return rows


def _open(row: Any, parameter: str = "customer_id") -> None:
    if row.status in CLOSED:
        raise CustomerClosed(row.status, parameter)


async def view(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, now: datetime
) -> CustomerView:
    row = await _require(session, account_id, customer_id)
    return CustomerView(row, await _balance(session, account_id, customer_id, now))


async def list_customers(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    search: str | None,
    status: str | None,
    after_id: uuid.UUID | None,
    limit: int,
    now: datetime,
) -> list[CustomerView]:
    text = search.strip() if search else None
    phone_index = None
    key = phone_lookup_key(text)
    if text and key is not None:
        phone_index = crypto.keyring().blind_index(account_id, "phone", key)
    rows = await repository.page(
        session,
        account_id,
        text=text or None,
        phone_index=phone_index,
        status=status,
        after_id=after_id,
        limit=limit,
    )
    views = []
    for row in rows:
        stored = (
            Balance(0, 0, 0)
            if row.available_points is None
            else Balance(
                row.available_points, row.pending_points, row.debt_points, row.next_maturity_at
            )
        )
        balance = await ledger_service.balance_as_of(session, account_id, row.id, stored, now)
        views.append(CustomerView(row, balance))
    return views


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def profile_changes(account_id: uuid.UUID, fields: dict[str, Any], today: date) -> dict[str, Any]:
    """Columns for a partial update (wire names → columns); None clears a field."""
    names = {
        "name": "name",
        "email": "email",
        "cardNumber": "card_number",
        "legalFirstName": "legal_first_name",
        "legalMiddleName": "legal_middle_name",
        "legalLastName": "legal_last_name",
        "birthDate": "birth_date",
        "sex": "sex",
    }
    changes: dict[str, Any] = {}
    for wire, column in names.items():
        if wire in fields:
            changes[column] = _clean(fields[wire])
    email = changes.get("email")
    if email is not None and not EMAIL.match(email):
        raise InvalidCustomerField("Некорректный адрес электронной почты.", parameter="email")
    birth_date = changes.get("birth_date")
    if birth_date is not None and not OLDEST_BIRTH_DATE <= birth_date <= today:
        raise InvalidCustomerField(
            "Дата рождения должна быть не раньше 1900-01-01 и не позже сегодняшнего дня.",
            parameter="birthDate",
        )
    if "phone" in fields:
        phone = _clean(fields["phone"])
        if phone is None:
            changes |= {"phone_ciphertext": None, "phone_index": None}
        elif normalise_phone(phone) is None:
            raise InvalidCustomerField(
                "Некорректный номер телефона: укажите его, например, как +79001234567.",
                parameter="phone",
            )
        else:
            changes |= phone_columns(account_id, phone)
    return changes


async def _save(
    session: AsyncSession,
    account_id: uuid.UUID,
    row: Any,
    changes: dict[str, Any],
    card_parameter: str,
) -> None:
    card = changes.get("card_number")
    if card is not None and card != row.card_number:
        owner = await repository.card_owner(session, account_id, card)
        if owner is not None and owner != row.id:
            raise CardTaken(card_parameter)
    try:
        await repository.update(session, account_id, row.id, changes)
    except IntegrityError as error:
        if customers_repository.assigns_retired_card(error):
            raise CardRetired(card_parameter) from error
        if "card_number" not in str(error.orig):
            raise
        # Another request gave the same card away a moment ago (unique key).
        raise CardTaken(card_parameter) from error


async def update_customer(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    fields: dict[str, Any],
    *,
    actor: str,
    now: datetime,
) -> CustomerView:
    changes = profile_changes(account_id, fields, now.date())
    rows = await _lock(session, account_id, [customer_id], exclusive=True)
    before = rows[customer_id]
    _open(before)
    if changes:
        await _save(session, account_id, before, changes, "cardNumber")
        after = await _require(session, account_id, customer_id)
        await audit_service.record(
            session,
            _event(
                account_id,
                actor,
                "customer.update",
                customer_id,
                now,
                snapshot(before),
                snapshot(after),
            ),
        )
    return await view(session, account_id, customer_id, now)


async def replace_card(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    card_number: str,
    *,
    actor: str,
    now: datetime,
) -> CustomerView:
    """A new card for the same customer; the old number no longer finds them and is retired:
    never given out again. Points are the customer's, not the card's, so they stay."""
    card = card_number.strip()
    if not card:
        raise InvalidCustomerField("Укажите номер новой карты.", parameter="cardNumber")
    rows = await _lock(session, account_id, [customer_id], exclusive=True)
    before = rows[customer_id]
    _open(before)
    if card == before.card_number:
        raise InvalidCustomerField(
            "Эта карта уже выдана этому покупателю; укажите номер новой карты.",
            parameter="cardNumber",
        )
    await _save(session, account_id, before, {"card_number": card}, "cardNumber")
    if before.card_number is not None:
        # A lost or stolen card must not come back on another customer.
        await customers_repository.retire_card(
            session, account_id, customer_id, before.card_number, now
        )
    after = await _require(session, account_id, customer_id)
    await audit_service.record(
        session,
        _event(
            account_id,
            actor,
            "customer.replace_card",
            customer_id,
            now,
            snapshot(before),
            snapshot(after),
        ),
    )
    return await view(session, account_id, customer_id, now)


async def set_blocked(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    blocked: bool,
    *,
    reason: str | None,
    actor: str,
    now: datetime,
) -> CustomerView:
    """Block or unblock; asking for the state the customer is already in changes nothing."""
    rows = await _lock(session, account_id, [customer_id], exclusive=True)
    before = rows[customer_id]
    _open(before)
    wanted = "blocked" if blocked else "active"
    if before.status != wanted:
        await repository.update(
            session, account_id, customer_id, {"status": wanted, "status_changed_at": now}
        )
        after = await _require(session, account_id, customer_id)
        await audit_service.record(
            session,
            _event(
                account_id,
                actor,
                "customer.block" if blocked else "customer.unblock",
                customer_id,
                now,
                {"status": before.status},
                {"status": after.status, "reason": reason},
            ),
        )
    return await view(session, account_id, customer_id, now)


async def merge(
    session: AsyncSession,
    account_id: uuid.UUID,
    survivor_id: uuid.UUID,
    duplicate_id: uuid.UUID,
    *,
    reason: str | None,
    actor: str,
    now: datetime,
) -> tuple[CustomerView, bool]:
    """Fold a duplicate into this customer: its points (with their activation and expiry) and
    debt move by one ledger transaction, and it is closed as `merged`. Repeating the same
    merge is answered as a replay."""
    if survivor_id == duplicate_id:
        raise SameCustomer("duplicateId")
    rows = await _lock(
        session,
        account_id,
        [survivor_id, duplicate_id],
        exclusive=True,
        parameters={duplicate_id: "duplicateId"},
    )
    survivor, duplicate = rows[survivor_id], rows[duplicate_id]
    _open(survivor)
    if duplicate.status == "merged" and duplicate.merged_into_id == survivor_id:
        return await view(session, account_id, survivor_id, now), True
    _open(duplicate, "duplicateId")
    locked = await ledger_service.lock_customers(
        session, account_id, [survivor_id, duplicate_id], now
    )
    moved = locked[duplicate_id].balance
    transaction_id = await ledger_service.merge(
        session,
        locked[duplicate_id],
        locked[survivor_id],
        idempotency_key=f"merge:{duplicate_id}",
        now=now,
        reason=reason or "Объединение покупателей",
        actor=actor,
    )
    # Lock order as at the till: balances, then vouchers.
    vouchers_moved = await repository.reassign_issued_vouchers(
        session, account_id, duplicate_id, survivor_id
    )
    await repository.update(
        session,
        account_id,
        duplicate_id,
        {"status": "merged", "merged_into_id": survivor_id, "status_changed_at": now},
    )
    if locked[survivor_id].has_webhooks:
        await webhooks_service.emit(
            session,
            account_id,
            "customer.merged",
            ledger_events.merge_event(
                await locked[survivor_id].event_subject(session),
                await locked[duplicate_id].event_subject(session),
                transaction_id=transaction_id,
                moved_available_points=moved.available_points,
                moved_pending_points=moved.pending_points,
                moved_debt_points=moved.debt_points,
                moved_vouchers=vouchers_moved,
            ),
            occurred_at=now,
        )
    await audit_service.record(
        session,
        _event(
            account_id,
            actor,
            "customer.merge",
            survivor_id,
            now,
            {"duplicate": {"id": str(duplicate_id), **snapshot(duplicate)}},
            {
                "duplicateId": str(duplicate_id),
                "movedPoints": _balance_json(moved),
                "movedVouchers": vouchers_moved,
            },
        ),
        _event(
            account_id,
            actor,
            "customer.merged_into",
            duplicate_id,
            now,
            snapshot(duplicate),
            {"status": "merged", "mergedIntoId": str(survivor_id)},
        ),
    )
    return CustomerView(survivor, locked[survivor_id].balance), False


async def ledger_page(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    before_entry_id: int | None,
    limit: int,
) -> list[LedgerLine]:
    await _require(session, account_id, customer_id)
    return await ledger_service.history(session, account_id, customer_id, limit, before_entry_id)


async def _replayed_transaction_id(
    session: AsyncSession, account_id: uuid.UUID, key: str
) -> int | None:
    stored = await ledger_repository.find_transaction(session, account_id, key)
    return None if stored is None else int(stored.id)


async def adjust(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    points: int,
    reason: str,
    idempotency_key: str,
    actor: str,
    now: datetime,
) -> PointsChange:
    """Credit (points > 0) or debit (points < 0) by hand, exactly once per key; a debit never
    takes more than is available."""
    rows = await _lock(session, account_id, [customer_id], exclusive=False)
    _open(rows[customer_id])
    program = await program_service.get_settings(session, account_id)
    locked = await ledger_service.lock_customer(session, account_id, customer_id, now)
    before = locked.balance
    key = f"adjustment:{idempotency_key}"
    try:
        if points > 0:
            transaction_id = await ledger_service.credit(
                session,
                locked,
                kind=TransactionKind.adjustment,
                points=points,
                terms=immediate_terms(program, now),
                idempotency_key=key,
                now=now,
                reason=reason,
                actor=actor,
            )
        else:
            transaction_id = await ledger_service.debit(
                session,
                locked,
                points=-points,
                idempotency_key=key,
                now=now,
                reason=reason,
                actor=actor,
            )
    except InsufficientPoints as error:
        raise PointsOverdraft(error.available_points, error.requested_points) from error
    if transaction_id is None:
        replayed_id = await _replayed_transaction_id(session, account_id, key)
        return PointsChange(replayed_id, True, {customer_id: locked.balance})
    await audit_service.record(
        session,
        _event(
            account_id,
            actor,
            "points.adjust",
            customer_id,
            now,
            _balance_json(before),
            {
                **_balance_json(locked.balance),
                "points": points,
                "reason": reason,
                "transactionId": transaction_id,
            },
        ),
    )
    return PointsChange(transaction_id, False, {customer_id: locked.balance})


async def transfer(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    source_id: uuid.UUID,
    target_id: uuid.UUID,
    points: int,
    reason: str,
    idempotency_key: str,
    actor: str,
    now: datetime,
) -> PointsChange:
    """Move available points between two customers of the account, atomically, once per key.
    Locks: customer rows, then balances, each in id order (no deadlock between transfers in
    opposite directions)."""
    if source_id == target_id:
        raise SameCustomer("toCustomerId")
    rows = await _lock(
        session,
        account_id,
        [source_id, target_id],
        exclusive=False,
        parameters={source_id: "fromCustomerId", target_id: "toCustomerId"},
    )
    _open(rows[source_id], "fromCustomerId")
    _open(rows[target_id], "toCustomerId")
    locked = await ledger_service.lock_customers(session, account_id, [source_id, target_id], now)
    before = {customer_id: item.balance for customer_id, item in locked.items()}
    key = f"transfer:{idempotency_key}"
    try:
        transaction_id = await ledger_service.transfer(
            session,
            locked[source_id],
            locked[target_id],
            points=points,
            idempotency_key=key,
            now=now,
            reason=reason,
            actor=actor,
        )
    except InsufficientPoints as error:
        raise PointsOverdraft(error.available_points, error.requested_points) from error
    balances = {customer_id: item.balance for customer_id, item in locked.items()}
    if transaction_id is None:
        replayed_id = await _replayed_transaction_id(session, account_id, key)
        return PointsChange(replayed_id, True, balances)
    details = {"points": points, "reason": reason, "transactionId": transaction_id}
    await audit_service.record(
        session,
        _event(
            account_id,
            actor,
            "points.transfer_out",
            source_id,
            now,
            _balance_json(before[source_id]),
            {**_balance_json(balances[source_id]), "toCustomerId": str(target_id), **details},
        ),
        _event(
            account_id,
            actor,
            "points.transfer_in",
            target_id,
            now,
            _balance_json(before[target_id]),
            {**_balance_json(balances[target_id]), "fromCustomerId": str(source_id), **details},
        ),
    )
    return PointsChange(transaction_id, False, balances)


# Program settings


async def get_program(session: AsyncSession, account_id: uuid.UUID) -> ProgramSettings:
    return await program_service.get_settings(session, account_id)


async def update_program(
    session: AsyncSession,
    account_id: uuid.UUID,
    changes: dict[str, Any],
    *,
    actor: str,
    now: datetime,
) -> ProgramSettings:
    before = await program_service.get_settings(session, account_id)
    after = await program_service.update_settings(session, account_id, changes)
    if after != before:
        await audit_service.record(
            session,
            AuditEvent(
                account_id=account_id,
                actor=actor,
                action="program.update",
                entity_type="program",
                entity_id=str(account_id),
                occurred_at=now,
                before=before.as_json(),
                after=after.as_json(),
            ),
        )
    return after


# Data rights


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_as_json_number(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _json_value(value)
        for key, value in row.items()
        if key != "account_id" and not isinstance(value, bytes)
    }


def personal_data(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "moysklad_id": row.moysklad_id,
        "sync_id": row.sync_id,
        "status": row.status,
        "merged_into_id": str(row.merged_into_id) if row.merged_into_id else None,
        "name": row.name,
        "phone": decrypt_phone(row),
        "email": row.email,
        "card_number": row.card_number,
        "legal_first_name": row.legal_first_name,
        "legal_middle_name": row.legal_middle_name,
        "legal_last_name": row.legal_last_name,
        "birth_date": row.birth_date.isoformat() if row.birth_date else None,
        "sex": row.sex,
        "verified": row.verified,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def export(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    actor: str,
    now: datetime,
    ledger_limit: int = 100_000,
) -> dict[str, Any]:
    """Everything held about one customer (a data subject's access request). The export
    itself is recorded in the audit log: who saw the personal data, and when."""
    row = await _require(session, account_id, customer_id)
    balance = await _balance(session, account_id, customer_id, now)
    ledger = await ledger_service.history(session, account_id, customer_id, ledger_limit)
    document = {
        "exportedAt": now.isoformat(),
        "customer": personal_data(row),
        "retiredCards": [
            {"cardNumber": card.card_number, "retiredAt": card.retired_at.isoformat()}
            for card in await customers_repository.retired_cards_of(session, account_id, row.id)
        ],
        "balance": _balance_json(balance),
        "ledger": [
            {
                "entryId": line.entry_id,
                "transactionId": line.transaction_id,
                "kind": line.kind,
                "bucket": line.bucket,
                "amountPoints": line.amount_points,
                "balanceAfterPoints": line.balance_after_points,
                "effectiveAt": line.effective_at.isoformat(),
                "createdAt": line.created_at.isoformat(),
                "reason": line.reason,
            }
            for line in reversed(ledger)
        ],
        "vouchers": [
            _json_row(item) for item in await repository.vouchers_of(session, account_id, row.id)
        ],
        "sales": [
            _json_row(item) for item in await repository.sales_of(session, account_id, row.id)
        ],
        "returns": [
            _json_row(item) for item in await repository.returns_of(session, account_id, row.id)
        ],
        "audit": [
            _json_row(item) for item in await repository.audit_of(session, account_id, row.id)
        ],
    }
    await audit_service.record(
        session, _event(account_id, actor, "customer.export", customer_id, now, None, None)
    )
    return document


async def erase(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    actor: str,
    now: datetime,
) -> CustomerView:
    """Anonymise a customer on request: every personal field is cleared and the customer is
    closed as `erased`. The ledger, an accounting record, is not touched, so it stays balanced;
    the remaining identifiers (our id, MoySklad's) name nobody without MoySklad's own data."""
    rows = await _lock(session, account_id, [customer_id], exclusive=True)
    before = rows[customer_id]
    if before.status != "erased":
        await repository.update(
            session,
            account_id,
            customer_id,
            {
                **dict.fromkeys(PERSONAL_COLUMNS),
                "status": "erased",
                "merged_into_id": None,
                "status_changed_at": now,
            },
        )
        await repository.forget_verification_codes(session, account_id, customer_id)
        # Card numbers link a person to the customer too; freed, they may be given out again.
        await customers_repository.forget_retired_cards(session, account_id, customer_id)
        await audit_service.record(
            session,
            _event(
                account_id,
                actor,
                "customer.erase",
                customer_id,
                now,
                {"status": before.status},
                {"status": "erased"},
            ),
        )
    return await view(session, account_id, customer_id, now)
