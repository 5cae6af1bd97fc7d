"""Customers at the till: register, find, show the balance, send a registration code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts.schemas import AccountContext
from loyalty.common import crypto
from loyalty.common.errors import InvalidRequest
from loyalty.common.phones import normalise_phone, phone_lookup_key
from loyalty.config import Settings
from loyalty.customers import repository
from loyalty.customers.errors import (
    CardNumberRetired,
    CardNumberTaken,
    CustomerAmbiguous,
    CustomerIdentityMissing,
    CustomerNotFound,
    ReasonRequired,
    RegistrationVerificationRequired,
    ZeroAdjustment,
)
from loyalty.customers.schemas import CounterpartyBody, CustomerFields, CustomerRow
from loyalty.ledger import service as ledger_service
from loyalty.ledger.schemas import Balance, TransactionKind
from loyalty.program import service as program_service
from loyalty.program.rules import immediate_terms
from loyalty.verification import service as verification_service
from loyalty.verification.senders import CodeSender
from loyalty.verification.service import IssuedCode

ACTIVE = "active"
CLOSED = ("merged", "erased")


@dataclass(frozen=True)
class CustomerRef:
    id: uuid.UUID
    moysklad_id: str | None
    name: str | None
    status: str = ACTIVE  # anything else neither earns nor spends at the till
    # Read along with a sale's look-up; None where the look-up did not ask.
    holds_vouchers: bool | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def _ref(row: Any) -> CustomerRef:
    holds_vouchers = row._mapping.get("holds_vouchers")
    return CustomerRef(
        row.id,
        row.moysklad_id,
        row.name,
        row.status,
        None if holds_vouchers is None else bool(holds_vouchers),
    )


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def phone_columns(account_id: uuid.UUID, raw: str) -> dict[str, bytes]:
    """The phone encrypted (E.164 when it parses, else as written) and its blind index."""
    keyring = crypto.keyring()
    shown = normalise_phone(raw) or raw.strip()
    key = phone_lookup_key(raw)
    assert key is not None
    return {
        "phone_ciphertext": keyring.encrypt(shown),
        "phone_index": keyring.blind_index(account_id, "phone", key),
    }


def decrypt_phone(row: Any) -> str | None:
    ciphertext = row.phone_ciphertext
    return None if ciphertext is None else crypto.keyring().decrypt(ciphertext)


def _profile(account_id: uuid.UUID, fields: CustomerFields) -> dict[str, Any]:
    """Columns from the wire fields; absent fields are left out so an update never blanks them."""
    profile: dict[str, Any] = {
        "name": _clean(fields.name),
        "email": _clean(fields.email),
        "card_number": _clean(fields.discountCardNumber),
        "legal_first_name": _clean(fields.legalFirstName),
        "legal_middle_name": _clean(fields.legalMiddleName),
        "legal_last_name": _clean(fields.legalLastName),
        "birth_date": fields.birth_date,
        "sex": fields.sex,
    }
    phone = _clean(fields.phone)
    if phone is not None:
        profile |= phone_columns(account_id, phone)
    if profile["name"] is None:
        legal = " ".join(
            part
            for part in (
                profile["legal_last_name"],
                profile["legal_first_name"],
                profile["legal_middle_name"],
            )
            if part
        )
        profile["name"] = legal or None
    return {key: value for key, value in profile.items() if value is not None}


async def _create(
    session: AsyncSession,
    context: AccountContext,
    *,
    moysklad_id: str | None,
    sync_id: str | None,
    profile: dict[str, Any],
    verified: bool,
    welcome: bool,
    now: datetime,
) -> CustomerRef | None:
    """Insert a customer with a zero balance; None if a unique key is already taken."""
    customer_id = uuid.uuid4()
    try:
        inserted = await repository.insert_if_absent(
            session,
            {
                "account_id": context.account_id,
                "id": customer_id,
                "moysklad_id": moysklad_id,
                "sync_id": sync_id,
                "verified": verified,
                **profile,
            },
        )
    except IntegrityError as error:
        if repository.assigns_retired_card(error):
            raise CardNumberRetired() from error
        raise
    if inserted is None:
        return None
    await ledger_service.open_customer(session, context.account_id, customer_id)
    program = context.program
    if welcome and program.welcome_bonus_points > 0:
        locked = await ledger_service.lock_customer(session, context.account_id, customer_id, now)
        await ledger_service.credit(
            session,
            locked,
            kind=TransactionKind.welcome,
            points=program.welcome_bonus_points,
            terms=immediate_terms(program, now),
            idempotency_key=f"welcome:{customer_id}",
            now=now,
            reason="Приветственный бонус",
        )
    return CustomerRef(customer_id, moysklad_id, profile.get("name"))


async def register_customer(
    session: AsyncSession, context: AccountContext, body: CounterpartyBody, now: datetime
) -> CustomerRef:
    """POST /counterparty: create or update, idempotent by MoySklad id or syncId."""
    moysklad_id, sync_id = body.moysklad_id, body.sync_id
    if moysklad_id is None and sync_id is None:
        raise CustomerIdentityMissing()
    profile = _profile(context.account_id, body)
    verified = body.statusCheck == "CHECKED"
    for _ in range(2):
        existing = await repository.find_by_identity(
            session, context.account_id, moysklad_id, sync_id
        )
        if existing is not None:
            return await _update(
                session, context, existing, moysklad_id, sync_id, profile, verified
            )
        if body.statusCheck == "UNCHECKED" and context.program.verify_registration:
            raise RegistrationVerificationRequired()
        welcome = verified or not context.program.verify_registration
        created = await _create(
            session,
            context,
            moysklad_id=moysklad_id,
            sync_id=sync_id,
            profile=profile,
            verified=verified,
            welcome=welcome,
            now=now,
        )
        if created is not None:
            return created
        card = profile.get("card_number")
        if card and await repository.card_owner(session, context.account_id, card) is not None:
            raise CardNumberTaken()
        # Otherwise another till registered the same customer a moment ago: update it.
    raise CardNumberTaken()


async def _update(
    session: AsyncSession,
    context: AccountContext,
    existing: Any,
    moysklad_id: str | None,
    sync_id: str | None,
    profile: dict[str, Any],
    verified: bool,
) -> CustomerRef:
    if existing.status in CLOSED:
        # Personal data of an erased (or merged) customer is not collected again.
        return _ref(existing)
    changes = dict(profile)
    # The till may name one person by a MoySklad id and a syncId that we hold as two customers;
    # an identifier another customer owns is never taken from it (merging is an operator's call).
    if moysklad_id and existing.moysklad_id is None:
        owner = await repository.find_by_identity(session, context.account_id, moysklad_id, None)
        if owner is None:
            changes["moysklad_id"] = moysklad_id
    if sync_id and existing.sync_id is None:
        owner = await repository.find_by_identity(session, context.account_id, None, sync_id)
        if owner is None:
            changes["sync_id"] = sync_id
    if verified and not existing.verified:
        changes["verified"] = True
    card = changes.get("card_number")
    if card and card != existing.card_number:
        owner = await repository.card_owner(session, context.account_id, card)
        if owner is not None and owner != existing.id:
            raise CardNumberTaken()
    if changes:
        try:
            await repository.update(session, context.account_id, existing.id, changes)
        except IntegrityError as error:
            if repository.assigns_retired_card(error):
                raise CardNumberRetired() from error
            raise
    return CustomerRef(
        existing.id,
        changes.get("moysklad_id", existing.moysklad_id),
        changes.get("name", existing.name),
        existing.status,
    )


async def find_customer(
    session: AsyncSession, context: AccountContext, reference: str | None, *, share: bool = False
) -> CustomerRef | None:
    """`share` keeps the row share-locked until commit, so the status read stays true: a block
    (which locks the row exclusively) waits for the sale, or the sale sees the block."""
    if not reference or not reference.strip():
        return None
    row = await repository.find_by_reference(
        session, context.account_id, reference.strip(), for_share=share
    )
    return None if row is None else _ref(row)


async def find_or_enroll(
    session: AsyncSession,
    context: AccountContext,
    *,
    reference: str | None,
    sync_id: str | None,
    fields: CustomerFields | None,
    now: datetime,
    share: bool = False,
) -> CustomerRef | None:
    """The customer behind a till reference; enrolled on the spot when the program allows it.

    Auto-enrolment never fails a sale: a card number that belongs to someone else is dropped.
    """
    customer = await find_customer(session, context, reference, share=share) or await find_customer(
        session, context, sync_id, share=share
    )
    return await enroll_unless_found(
        session, context, customer, reference=reference, sync_id=sync_id, fields=fields, now=now
    )


def customer_from_row(row: Any) -> CustomerRef:
    """A customer row read by another package's statement built on
    `repository.reference_select`."""
    return _ref(row)


async def enroll_unless_found(
    session: AsyncSession,
    context: AccountContext,
    customer: CustomerRef | None,
    *,
    reference: str | None,
    sync_id: str | None,
    fields: CustomerFields | None,
    now: datetime,
) -> CustomerRef | None:
    """`customer` when the look-up found one; else enrolled on the spot when the program
    allows it (`find_or_enroll`, for a caller that has looked the customer up already)."""
    if customer is not None or not context.program.auto_enroll or not (reference or sync_id):
        return customer
    profile = _profile(context.account_id, fields) if fields is not None else {}
    for attempt in range(2):
        created = await _create(
            session,
            context,
            moysklad_id=reference,
            sync_id=sync_id,
            profile=profile,
            verified=False,
            welcome=not context.program.verify_registration,
            now=now,
        )
        if created is not None:
            return created
        existing = await repository.find_by_identity(
            session, context.account_id, reference, sync_id
        )
        if existing is not None:
            return _ref(existing)
        if attempt == 0:
            profile.pop("card_number", None)
    return None


async def search_customers(
    session: AsyncSession,
    context: AccountContext,
    search: str,
    retail_store_id: str | None,
    limit: int,
) -> list[CustomerRow]:
    """GET /counterparty (external search): phone in any format, card, e-mail or name part."""
    if not retail_store_id:
        raise InvalidRequest("Не указана точка продаж", parameter="retailStoreId")
    text = search.strip()
    if not text:
        return []
    rows = await repository.search(
        session,
        context.account_id,
        text=text,
        phone_index=_phone_index(context.account_id, text),
        limit=limit,
    )
    return [_search_row(row) for row in rows]


def _phone_index(account_id: uuid.UUID, text: str) -> bytes | None:
    key = phone_lookup_key(text)
    return None if key is None else crypto.keyring().blind_index(account_id, "phone", key)


def _search_row(row: Any) -> CustomerRow:
    phone = decrypt_phone(row)
    return CustomerRow(
        id=str(row.id),
        msId=row.moysklad_id,
        name=row.name or phone or row.card_number or "Покупатель",
        discountCardNumber=row.card_number,
        phone=phone,
        email=row.email,
        legalFirstName=row.legal_first_name,
        legalMiddleName=row.legal_middle_name,
        legalLastName=row.legal_last_name,
        birthDate=row.birth_date.strftime("%Y-%m-%d 00:00:00") if row.birth_date else None,
        sex=row.sex,
    )


async def get_available_balance(
    session: AsyncSession, context: AccountContext, body: CounterpartyBody, now: datetime
) -> int:
    """POST /counterparty/detail: the balance the customer can spend now."""
    customer = await find_or_enroll(
        session, context, reference=body.moysklad_id, sync_id=body.sync_id, fields=body, now=now
    )
    if customer is None:
        raise CustomerNotFound()
    balance = await ledger_service.read_balance(session, context.account_id, customer.id, now)
    return balance.available_points if balance is not None else 0


async def request_registration_code(
    session: AsyncSession,
    context: AccountContext,
    body: CounterpartyBody,
    *,
    now: datetime,
    settings: Settings,
    sender: CodeSender,
) -> IssuedCode:
    return await verification_service.issue_code(
        session,
        account_id=context.account_id,
        purpose="registration",
        phone=body.phone,
        retail_store_id=body.retailStore.store_id if body.retailStore else None,
        customer_id=None,
        now=now,
        settings=settings,
        sender=sender,
    )


async def phone_of(
    session: AsyncSession, context: AccountContext, customer_id: uuid.UUID
) -> str | None:
    row = await repository.get(session, context.account_id, customer_id)
    if row is None:
        return None
    phone = decrypt_phone(row)
    return phone


async def find_for_operator(session: AsyncSession, account_id: uuid.UUID, text: str) -> Any:
    """Operators name a customer by our id, MoySklad id, syncId, card number or phone."""
    text = text.strip()
    row = await repository.find_by_reference(session, account_id, text)
    if row is not None:
        return row
    rows = await repository.find_by_card_or_phone(
        session, account_id, text, _phone_index(account_id, text)
    )
    cards = [candidate for candidate in rows if candidate.card_number == text]
    if len(cards) == 1:
        return cards[0]
    if len(rows) > 1:
        raise CustomerAmbiguous(len(rows))
    if not rows:
        raise CustomerNotFound(parameter="customer")
    return rows[0]


@dataclass(frozen=True)
class Adjustment:
    customer_id: uuid.UUID
    transaction_id: int | None
    points: int
    replayed: bool
    balance: Balance


async def adjust_points(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    customer: str,
    points: int,
    reason: str,
    idempotency_key: str,
    actor: str | None,
    now: datetime,
) -> Adjustment:
    """Credit (points > 0) or debit (points < 0) by hand, with a reason, exactly once per key."""
    if points == 0:
        raise ZeroAdjustment()
    if not reason.strip():
        raise ReasonRequired()
    program = await program_service.get_settings(session, account_id)
    row = await find_for_operator(session, account_id, customer)
    locked = await ledger_service.lock_customer(session, account_id, row.id, now)
    key = f"adjustment:{idempotency_key}"
    if points > 0:
        transaction_id = await ledger_service.credit(
            session,
            locked,
            kind=TransactionKind.adjustment,
            points=points,
            terms=immediate_terms(program, now),
            idempotency_key=key,
            now=now,
            reason=reason.strip(),
            actor=actor,
        )
    else:
        transaction_id = await ledger_service.debit(
            session,
            locked,
            points=-points,
            idempotency_key=key,
            now=now,
            reason=reason.strip(),
            actor=actor,
        )
    return Adjustment(row.id, transaction_id, points, transaction_id is None, locked.balance)
