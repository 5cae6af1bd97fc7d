"""The voucher engine: batches, bulk generation, lifecycle, look-ups, and personal vouchers
at the till. Balance and use changes go through `ledger.vouchers`; every change is audited in
the same transaction."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit import service as audit_service
from loyalty.audit.schemas import AuditEvent
from loyalty.common.errors import DomainError
from loyalty.config import Settings
from loyalty.customers import service as customers_service
from loyalty.ledger import vouchers as voucher_ledger
from loyalty.ledger.vouchers import Movement, MovementKind
from loyalty.throttling import service as throttling_service
from loyalty.vouchers import codes, csv_format, repository, rules
from loyalty.vouchers.csv_format import ImportRow
from loyalty.vouchers.errors import (
    BatchCodeTaken,
    BatchNotFound,
    CsvImportRefused,
    GenerationKeyReused,
    InsufficientVoucherBalance,
    InvalidVoucherSetting,
    SaleNotFound,
    VoucherAssignedToAnotherCustomer,
    VoucherCodeTaken,
    VoucherNoLongerAvailable,
    VoucherNotFound,
    VoucherNotInReceipt,
    VoucherRedeemRefused,
    VoucherStateRefused,
    WrongPin,
)
from loyalty.vouchers.repository import StagedVoucher, VoucherFilter
from loyalty.vouchers.schemas import (
    BatchView,
    ExpiryType,
    MovementView,
    Page,
    VoucherChoice,
    VoucherStatus,
    VoucherType,
    VoucherView,
)

GENERATION_CHUNK = 5_000
MAX_GENERATION = 1_000_000
MAX_MINOR = 10**13
PIN_ITERATIONS = 100_000

STATUS_WORDS = {
    VoucherStatus.new: "ещё не выдан (не активирован)",
    VoucherStatus.issued: "действует",
    VoucherStatus.redeemed: "уже полностью использован",
    VoucherStatus.void: "аннулирован",
    VoucherStatus.expired: "истёк",
}


@dataclass(frozen=True)
class Actor:
    """Who changes a voucher, and from which store and document (for movements and audit)."""

    name: str
    retail_store_id: str | None = None
    document: str | None = None


@dataclass(frozen=True)
class BatchSpec:
    name: str
    voucher_type: VoucherType
    code: str | None = None
    currency: str = "RUB"
    face_value_minor: int | None = None
    discount_percent: Decimal | None = None
    has_balance: bool | None = None
    min_spend_minor: int = 0
    max_use_percent: Decimal | None = None
    uses_per_voucher: int | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None
    expiry_type: ExpiryType = ExpiryType.none
    expires_at: datetime | None = None
    expiry_days: int | None = None
    code_format: codes.CodeFormat = field(default_factory=codes.CodeFormat)
    note: str | None = None


@dataclass(frozen=True)
class Generation:
    batch_id: uuid.UUID
    count: int
    first_serial: int
    last_serial: int
    issued: bool
    replayed: bool


def snapshot(voucher: VoucherView) -> dict[str, Any]:
    """What the audit log keeps of a voucher before and after a change."""
    return {
        "status": voucher.status.value,
        "balance_minor": voucher.balance_minor,
        "used_count": voucher.used_count,
        "customer_id": str(voucher.customer_id) if voucher.customer_id else None,
        "expires_at": voucher.expires_at.isoformat() if voucher.expires_at else None,
    }


def audit_event(
    account_id: uuid.UUID,
    actor: Actor,
    action: str,
    now: datetime,
    *,
    before: VoucherView | None,
    after: VoucherView | None,
    entity_id: uuid.UUID | None = None,
) -> AuditEvent:
    subject = after or before
    return AuditEvent(
        account_id=account_id,
        actor=actor.name,
        action=action,
        entity_type="voucher",
        entity_id=str(entity_id or (subject.id if subject else "")),
        occurred_at=now,
        before=snapshot(before) if before else None,
        after=snapshot(after) if after else None,
        retail_store_id=actor.retail_store_id,
        document=actor.document,
    )


# PINs


def hash_pin(pin: str) -> bytes:
    salt = secrets.token_bytes(16)
    return salt + hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, PIN_ITERATIONS)


def pin_matches(stored: bytes, pin: str) -> bool:
    salt, digest = stored[:16], stored[16:]
    return hmac.compare_digest(
        digest, hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, PIN_ITERATIONS)
    )


# Batches


def _setting(message: str, parameter: str) -> InvalidVoucherSetting:
    return InvalidVoucherSetting(message, parameter=parameter)


def validate_batch(spec: BatchSpec) -> BatchSpec:
    """Complete the defaults of a batch and check it, naming the offending setting in Russian."""
    name = spec.name.strip()
    if not 1 <= len(name) <= 200:
        raise _setting("Название серии — от 1 до 200 символов", "name")
    code = (spec.code or "").strip() or secrets.token_hex(4).upper()
    if len(code) > 64:
        raise _setting("Код серии — не длиннее 64 символов", "code")
    currency = spec.currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise _setting("Валюта — трёхбуквенный код ISO 4217, например RUB", "currency")
    voucher_type = spec.voucher_type
    if voucher_type is VoucherType.discount:
        if spec.discount_percent is None or not Decimal(0) < spec.discount_percent <= 100:
            raise _setting("Скидка купона — больше 0 и не больше 100 %", "discount_percent")
        if spec.discount_percent != spec.discount_percent.quantize(Decimal("0.01")):
            raise _setting(
                "Процент скидки — не более двух знаков после запятой", "discount_percent"
            )
        if spec.face_value_minor is not None or spec.has_balance:
            raise _setting("У процентного купона нет номинала и баланса", "face_value_minor")
        has_balance = False
    else:
        if spec.face_value_minor is None or not 0 < spec.face_value_minor <= MAX_MINOR:
            raise _setting("Номинал — целое число копеек больше нуля", "face_value_minor")
        if spec.discount_percent is not None:
            raise _setting(
                "Процент скидки задаётся только для купонов DISCOUNT", "discount_percent"
            )
        if voucher_type is VoucherType.gift and spec.has_balance is False:
            raise _setting("Подарочный сертификат всегда хранит баланс", "has_balance")
        has_balance = voucher_type is VoucherType.gift or bool(spec.has_balance)
    if not 0 <= spec.min_spend_minor <= MAX_MINOR:
        raise _setting(
            "Минимальная сумма покупки — неотрицательное число копеек", "min_spend_minor"
        )
    if spec.max_use_percent is not None and not Decimal(0) < spec.max_use_percent <= 100:
        raise _setting("Доля чека — больше 0 и не больше 100 %", "max_use_percent")
    for setting, value in (
        ("uses_per_voucher", spec.uses_per_voucher),
        ("usage_limit", spec.usage_limit),
        ("per_customer_limit", spec.per_customer_limit),
    ):
        if value is not None and not 0 < value <= 1_000_000_000:
            raise _setting("Лимит использований — целое число больше нуля", setting)
    uses_per_voucher = spec.uses_per_voucher
    if uses_per_voucher is None and not has_balance:
        uses_per_voucher = 1  # a discount voucher is single-use unless said otherwise
    if spec.expiry_type is ExpiryType.fixed and spec.expires_at is None:
        raise _setting("Для срока FIXED укажите дату окончания", "expires_at")
    if spec.expiry_type is ExpiryType.dynamic and not (
        spec.expiry_days is not None and 0 < spec.expiry_days <= 36500
    ):
        raise _setting("Для срока DYNAMIC укажите число дней от выдачи (1–36500)", "expiry_days")
    expires_at = spec.expires_at if spec.expiry_type is ExpiryType.fixed else None
    expiry_days = spec.expiry_days if spec.expiry_type is ExpiryType.dynamic else None
    try:
        code_format = replace(
            spec.code_format,
            alphabet=spec.code_format.alphabet.upper(),
            prefix=spec.code_format.prefix.upper(),
        ).validate()
    except codes.CodeFormatError as error:
        raise _setting(str(error), "code_format") from error
    return replace(
        spec,
        name=name,
        code=code,
        currency=currency,
        has_balance=has_balance,
        uses_per_voucher=uses_per_voucher,
        expires_at=expires_at,
        expiry_days=expiry_days,
        code_format=code_format,
    )


async def create_batch(
    session: AsyncSession, *, account_id: uuid.UUID, spec: BatchSpec, actor: Actor, now: datetime
) -> BatchView:
    spec = validate_batch(spec)
    assert spec.code is not None
    assert spec.has_balance is not None
    batch = await repository.insert_batch(
        session,
        {
            "account_id": account_id,
            "id": uuid.uuid4(),
            "code": spec.code,
            "name": spec.name,
            "voucher_type": spec.voucher_type.value,
            "currency": spec.currency,
            "face_value_minor": spec.face_value_minor,
            "discount_percent": spec.discount_percent,
            "has_balance": spec.has_balance,
            "min_spend_minor": spec.min_spend_minor,
            "max_use_percent": spec.max_use_percent,
            "uses_per_voucher": spec.uses_per_voucher,
            "usage_limit": spec.usage_limit,
            "per_customer_limit": spec.per_customer_limit,
            "expiry_type": spec.expiry_type.value,
            "expires_at": spec.expires_at,
            "expiry_days": spec.expiry_days,
            "code_length": spec.code_format.length,
            "code_alphabet": spec.code_format.alphabet,
            "code_prefix": spec.code_format.prefix,
            "note": spec.note,
        },
    )
    if batch is None:
        raise BatchCodeTaken(spec.code)
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor.name,
            action="voucher_batch.create",
            entity_type="voucher_batch",
            entity_id=str(batch.id),
            occurred_at=now,
            after=_batch_audit(batch),
        ),
    )
    return batch


def _batch_audit(batch: BatchView) -> dict[str, Any]:
    return {
        "code": batch.code,
        "name": batch.name,
        "voucher_type": batch.voucher_type.value,
        "currency": batch.currency,
        "face_value_minor": batch.face_value_minor,
        "discount_percent": str(batch.discount_percent) if batch.discount_percent else None,
        "usage_limit": batch.usage_limit,
        "per_customer_limit": batch.per_customer_limit,
        "expiry_type": batch.expiry_type.value,
    }


async def get_batch_by_code(
    session: AsyncSession, account_id: uuid.UUID, code: str, parameter: str = "batch"
) -> BatchView:
    batch = await repository.get_batch_by_code(session, account_id, code)
    if batch is None:
        raise BatchNotFound(code, parameter)
    return batch


async def get_batch(
    session: AsyncSession, account_id: uuid.UUID | None, batch_id: uuid.UUID
) -> BatchView:
    batch = await repository.get_batch(session, account_id, batch_id)
    if batch is None:
        raise BatchNotFound(batch_id)
    return batch


async def list_batches(session: AsyncSession, account_id: uuid.UUID) -> list[BatchView]:
    return await repository.list_batches(session, account_id)


async def batch_counts(session: AsyncSession, batch: BatchView) -> dict[str, int]:
    return await repository.batch_voucher_counts(session, batch.account_id, batch.id)


# Generation


def _code_format(batch: BatchView) -> codes.CodeFormat:
    return codes.CodeFormat(batch.code_length, batch.code_alphabet, batch.code_prefix)


async def generate(
    session: AsyncSession,
    *,
    batch: BatchView,
    count: int,
    issue: bool,
    idempotency_key: str | None,
    actor: Actor,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> Generation:
    """Generate `count` unique codes for a batch (serial numbers consecutive), optionally issued
    at once. Rows go in by COPY in chunks; a code the account already has is drawn again."""
    if not 1 <= count <= MAX_GENERATION:
        raise _setting(f"Количество кодов — от 1 до {MAX_GENERATION}", "count")
    account_id = batch.account_id
    if idempotency_key is not None:
        previous = await repository.find_generation(session, account_id, idempotency_key)
        if previous is not None:
            if previous.batch_id != batch.id or previous.voucher_count != count:
                raise GenerationKeyReused()
            return Generation(
                batch.id, count, previous.first_serial, previous.last_serial, previous.issued, True
            )
    first_serial = await repository.reserve_serials(session, account_id, count)
    code_format = _code_format(batch)
    issued_count = 0
    expires_at = (
        rules.expiry_for_issue(batch.expiry_type, batch.expires_at, batch.expiry_days, now)
        if issue
        else None
    )
    for chunk_start in range(first_serial, first_serial + count, GENERATION_CHUNK):
        chunk_end = min(chunk_start + GENERATION_CHUNK, first_serial + count) - 1
        missing = list(range(chunk_start, chunk_end + 1))
        while missing:
            drawn = codes.generate(code_format, len(missing))
            inserted = await repository.bulk_insert(
                session,
                account_id=account_id,
                batch=batch,
                rows=[
                    StagedVoucher(uuid.uuid4(), serial, code, expires_at=expires_at)
                    for serial, code in zip(missing, drawn, strict=True)
                ],
                origin="SYSTEM",
                issued_at=now if issue else None,
            )
            missing = [serial for serial in missing if serial not in inserted]
        if issue:
            issued_count += await voucher_ledger.issue_range(
                session,
                account_id=account_id,
                batch_id=batch.id,
                first_serial=chunk_start,
                last_serial=chunk_end,
                actor=actor.name,
                occurred_at=now,
            )
        if progress is not None:
            progress(chunk_end - chunk_start + 1)
    last_serial = first_serial + count - 1
    await repository.insert_generation(
        session,
        {
            "account_id": account_id,
            "batch_id": batch.id,
            "idempotency_key": idempotency_key,
            "voucher_count": count,
            "first_serial": first_serial,
            "last_serial": last_serial,
            "issued": issue,
            "actor": actor.name,
        },
    )
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor.name,
            action="voucher.generate",
            entity_type="voucher_batch",
            entity_id=str(batch.id),
            occurred_at=now,
            after={
                "count": count,
                "first_serial": first_serial,
                "last_serial": last_serial,
                "issued": issued_count,
            },
        ),
    )
    return Generation(batch.id, count, first_serial, last_serial, issue, False)


# Single vouchers with a given code (compatibility APIs)


@dataclass(frozen=True)
class VoucherTerms:
    """Per-voucher terms that differ from the batch's (None: the batch's own)."""

    voucher_type: VoucherType | None = None
    face_value_minor: int | None = None
    discount_percent: Decimal | None = None
    has_balance: bool | None = None
    usage_limit: int | None = None
    max_use_percent: Decimal | None = None
    customer_id: uuid.UUID | None = None
    expires_at: datetime | None = None
    valid_from: datetime | None = None
    pin: str | None = None
    note: str | None = None


async def create_voucher(
    session: AsyncSession,
    *,
    batch: BatchView,
    code: str,
    terms: VoucherTerms,
    actor: Actor,
    now: datetime,
) -> VoucherView:
    """Register a code made elsewhere (origin SELF) as a NEW voucher of `batch`."""
    code = code.strip()
    if not code or len(code) > 64:
        raise _setting("Код купона — от 1 до 64 символов", "code")
    voucher_type = terms.voucher_type or batch.voucher_type
    has_balance = batch.has_balance if terms.has_balance is None else terms.has_balance
    face_value = (
        terms.face_value_minor if terms.face_value_minor is not None else batch.face_value_minor
    )
    discount = (
        terms.discount_percent if terms.discount_percent is not None else batch.discount_percent
    )
    if voucher_type is VoucherType.discount:
        face_value, has_balance = None, False
    else:
        discount = None
        has_balance = has_balance or voucher_type is VoucherType.gift
        if face_value is None or face_value <= 0:
            raise _setting("Номинал купона — целое число больше нуля", "amount")
    if voucher_type is VoucherType.discount and (discount is None or not 0 < discount <= 100):
        raise _setting("Процент скидки — больше 0 и не больше 100", "percent")
    voucher_id = uuid.uuid4()
    serial = await repository.reserve_serials(session, batch.account_id, 1)
    created = await repository.insert_voucher(
        session,
        {
            "account_id": batch.account_id,
            "id": voucher_id,
            "batch_id": batch.id,
            "serial_number": serial,
            "code": code,
            "voucher_type": voucher_type.value,
            "currency": batch.currency,
            "face_value_minor": face_value,
            "discount_percent": discount,
            "has_balance": has_balance,
            "min_spend_minor": batch.min_spend_minor,
            "max_use_percent": terms.max_use_percent
            if terms.max_use_percent is not None
            else batch.max_use_percent,
            "usage_limit": terms.usage_limit or (None if has_balance else batch.uses_per_voucher),
            "pin_hash": hash_pin(terms.pin) if terms.pin else None,
            "customer_id": terms.customer_id,
            "origin": "SELF",
            "note": terms.note,
            "valid_from": terms.valid_from,
            "expires_at": terms.expires_at,
        },
    )
    if not created:
        raise VoucherCodeTaken(code)
    view = await get_voucher(session, batch.account_id, voucher_id)
    await audit_service.record(
        session,
        audit_event(batch.account_id, actor, "voucher.create", now, before=None, after=view),
    )
    return view


async def register_code(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    batch_id: uuid.UUID,
    code: str,
    issue: bool,
    customer_reference: str | None,
    terms: VoucherTerms,
    actor: Actor,
    now: datetime,
) -> VoucherView:
    """A code made elsewhere, added to a batch and (by default) issued."""
    batch = await get_batch(session, account_id, batch_id)
    voucher = await create_voucher(
        session, batch=batch, code=code, terms=terms, actor=actor, now=now
    )
    if not issue:
        if customer_reference:
            customer = await customers_service.find_for_operator(
                session, account_id, customer_reference
            )
            await repository.update_definition(
                session, account_id, voucher.id, {"customer_id": customer.id}
            )
            return await get_voucher(session, account_id, voucher.id)
        return voucher
    return await issue_voucher(
        session,
        account_id=account_id,
        voucher_id=voucher.id,
        customer_reference=customer_reference,
        expires_at=terms.expires_at,
        actor=actor,
        now=now,
    )


async def set_pin(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    voucher_id: uuid.UUID,
    pin: str | None,
    actor: Actor,
    now: datetime,
) -> None:
    """Set, change or clear a voucher's PIN; saving the same PIN again changes nothing."""
    stored = await repository.pin_hash_of(session, account_id, voucher_id)
    if (stored is None and not pin) or (stored is not None and pin and pin_matches(stored, pin)):
        return
    await repository.update_definition(
        session, account_id, voucher_id, {"pin_hash": hash_pin(pin) if pin else None}
    )
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor.name,
            action="voucher.pin",
            entity_type="voucher",
            entity_id=str(voucher_id),
            occurred_at=now,
            before={"pin_protected": stored is not None},
            after={"pin_protected": bool(pin)},
        ),
    )


async def update_terms(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    voucher_id: uuid.UUID,
    changes: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> VoucherView:
    """Change a voucher's own limits and dates (compatibility re-saves); audited."""
    before = await lock_one(session, account_id, voucher_id)
    new_limit = changes.get("usage_limit")
    if new_limit is not None and new_limit < before.used_count:
        raise _setting("Лимит использований меньше уже использованного", "usageCount")
    if changes:
        await repository.update_definition(session, account_id, voucher_id, changes)
    after = await get_voucher(session, account_id, voucher_id)
    if after != before:
        await audit_service.record(
            session,
            audit_event(account_id, actor, "voucher.update", now, before=before, after=after),
        )
    return after


# Look-ups


def _spellings(raw: str) -> list[str]:
    given = raw.strip()
    canonical = codes.normalise(given)
    return [given] if canonical == given else [given, canonical]


async def find_by_code(
    session: AsyncSession, account_id: uuid.UUID, raw_code: str
) -> VoucherView | None:
    if not raw_code.strip():
        return None
    found = await repository.find_by_code(session, account_id, _spellings(raw_code))
    return found[0] if found else None


async def require_by_code(
    session: AsyncSession, account_id: uuid.UUID, raw_code: str, parameter: str = "code"
) -> VoucherView:
    found = await find_by_code(session, account_id, raw_code)
    if found is None:
        raise VoucherNotFound(raw_code, parameter)
    return found


async def find_in_any_account(session: AsyncSession, raw_code: str) -> list[VoucherView]:
    """For the operator's command line, which may name a code without its account."""
    return await repository.find_by_code(session, None, _spellings(raw_code))


async def looks_like_typo(session: AsyncSession, account_id: uuid.UUID, raw_code: str) -> bool:
    """True when no code format of the account accepts the check character of `raw_code`,
    while one has its length and prefix: the cashier most likely mistyped a character."""
    code = codes.normalise(raw_code)
    shaped = False
    for length, alphabet, prefix in await repository.code_formats(session, account_id):
        code_format = codes.CodeFormat(length, alphabet, prefix)
        if len(code) != code_format.total_length or not code.startswith(prefix):
            continue
        shaped = True
        if codes.has_valid_check(code, code_format):
            return False
    return shaped


async def lookup_for_client(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    raw_code: str,
    client_key: str,
    now: datetime,
    settings: Settings,
    not_found: Callable[[bool], Exception],
) -> VoucherView:
    """A code look-up by a till or POS: a locked-out client gets 429; a miss counts towards
    the lockout (`not_found(typo)` builds the error the caller's API answers with)."""
    await throttling_service.check_lockout(
        session, account_id=account_id, client_key=client_key, now=now
    )
    found = await find_by_code(session, account_id, raw_code)
    if found is not None:
        return found
    await throttling_service.record_failed_lookup(
        session, account_id=account_id, client_key=client_key, now=now, settings=settings
    )
    raise not_found(await looks_like_typo(session, account_id, raw_code))


async def find_by_id(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID
) -> VoucherView | None:
    return await repository.get_voucher(session, account_id, voucher_id)


async def sale_movements(
    session: AsyncSession, account_id: uuid.UUID, sale_id: int
) -> list[MovementView]:
    return await repository.movements_of_sale(session, account_id, sale_id)


async def get_voucher(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID
) -> VoucherView:
    found = await repository.get_voucher(session, account_id, voucher_id)
    if found is None:
        raise VoucherNotFound(voucher_id, "voucher_id")
    return found


async def list_vouchers(
    session: AsyncSession, account_id: uuid.UUID, where: VoucherFilter, page: Page
) -> tuple[list[VoucherView], int]:
    return await repository.page_vouchers(session, account_id, where, page)


async def voucher_movements(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID, limit: int = 100
) -> list[MovementView]:
    await get_voucher(session, account_id, voucher_id)
    return await repository.movements_of_voucher(session, account_id, voucher_id, limit)


# Lifecycle


async def lock_many(
    session: AsyncSession, account_id: uuid.UUID, voucher_ids: list[uuid.UUID]
) -> dict[uuid.UUID, VoucherView]:
    rows = await voucher_ledger.lock(session, account_id, voucher_ids)
    return {row.id: repository.voucher_view(row) for row in rows}


async def lock_one(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID
) -> VoucherView:
    locked = await lock_many(session, account_id, [voucher_id])
    if voucher_id not in locked:
        raise VoucherNotFound(voucher_id, "voucher_id")
    return locked[voucher_id]


async def move(
    session: AsyncSession,
    account_id: uuid.UUID,
    before: VoucherView,
    *,
    kind: MovementKind,
    amount_minor: int,
    uses_delta: int,
    key: str,
    action: str,
    actor: Actor,
    now: datetime,
    applied_minor: int | None = None,
    customer_id: uuid.UUID | None = None,
    sale_id: int | None = None,
    return_id: int | None = None,
    reason: str | None = None,
    parameter: str | None = None,
) -> tuple[VoucherView, bool]:
    """Post one movement of a locked voucher (`before`) and audit it; returns the voucher
    after and whether the movement was a replay (then nothing changed and nothing is audited)."""
    posted = await voucher_ledger.post(
        session,
        account_id,
        Movement(
            voucher_id=before.id,
            batch_id=before.batch_id,
            kind=kind,
            amount_minor=amount_minor,
            uses_delta=uses_delta,
            idempotency_key=key,
            occurred_at=now,
            applied_minor=applied_minor,
            customer_id=customer_id,
            sale_id=sale_id,
            return_id=return_id,
            retail_store_id=actor.retail_store_id,
            document=actor.document,
            actor=actor.name,
            reason=reason,
        ),
        batch_limited=before.batch_limited,
        parameter=parameter,
    )
    after = await get_voucher(session, account_id, before.id)
    if not posted.replayed:
        await audit_service.record(
            session, audit_event(account_id, actor, action, now, before=before, after=after)
        )
    return after, posted.replayed


async def undo(
    session: AsyncSession,
    account_id: uuid.UUID,
    before: VoucherView,
    original: Any,
    *,
    key: str,
    action: str,
    actor: Actor,
    now: datetime,
    sale_id: int | None = None,
    return_id: int | None = None,
) -> tuple[VoucherView, bool]:
    """Give back what a redemption (`original`, a movement) took: its amount and its use."""
    return await move(
        session,
        account_id,
        before,
        kind=MovementKind.refund,
        amount_minor=-original.amount_minor,
        uses_delta=-original.uses_delta,
        key=key,
        action=action,
        actor=actor,
        now=now,
        applied_minor=-original.applied_minor if original.applied_minor else None,
        customer_id=original.customer_id,
        sale_id=sale_id,
        return_id=return_id,
    )


async def issue_voucher(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    voucher_id: uuid.UUID,
    customer_reference: str | None,
    actor: Actor,
    now: datetime,
    expires_at: datetime | None = None,
) -> VoucherView:
    """NEW → ISSUED (a stored-value voucher gets its face value), optionally to a customer.
    An issued bearer voucher that was never used can still be handed to a customer. Repeating
    the same issue changes nothing."""
    customer_id = None
    if customer_reference is not None and customer_reference.strip():
        customer_id = (
            await customers_service.find_for_operator(session, account_id, customer_reference)
        ).id
    before = await lock_one(session, account_id, voucher_id)
    if before.status is VoucherStatus.new:
        batch = await get_batch(session, account_id, before.batch_id)
        await repository.update_definition(
            session,
            account_id,
            voucher_id,
            {
                "customer_id": customer_id or before.customer_id,
                "issued_at": now,
                "expires_at": expires_at
                or before.expires_at
                or rules.expiry_for_issue(
                    batch.expiry_type, batch.expires_at, batch.expiry_days, now
                ),
            },
        )
        after, _ = await move(
            session,
            account_id,
            before,
            kind=MovementKind.issue,
            amount_minor=(before.face_value_minor or 0) if before.has_balance else 0,
            uses_delta=0,
            key="issue",
            action="voucher.issue",
            actor=actor,
            now=now,
            customer_id=customer_id,
        )
        return after
    elif before.status is VoucherStatus.issued and customer_id is not None:
        if before.customer_id == customer_id:
            return before
        if before.customer_id is not None:
            raise VoucherAssignedToAnotherCustomer()
        untouched = before.used_count == 0 and before.balance_minor == before.initial_balance_minor
        if not untouched:
            raise VoucherStateRefused(
                "Купон уже использовался; передать его покупателю нельзя.", parameter="customer"
            )
        await repository.update_definition(
            session, account_id, voucher_id, {"customer_id": customer_id}
        )
    elif before.status is VoucherStatus.issued:
        return before
    else:
        raise VoucherStateRefused(
            f"Купон {STATUS_WORDS[before.status]}; выдать его нельзя.", parameter="voucher_id"
        )
    after = await get_voucher(session, account_id, voucher_id)
    await audit_service.record(
        session, audit_event(account_id, actor, "voucher.assign", now, before=before, after=after)
    )
    return after


async def void_voucher(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    voucher_id: uuid.UUID,
    reason: str | None,
    actor: Actor,
    now: datetime,
) -> VoucherView:
    """Cancel a voucher; its remaining balance is written off. Voiding twice changes nothing."""
    before = await lock_one(session, account_id, voucher_id)
    if before.status is VoucherStatus.void:
        return before
    if before.status not in (VoucherStatus.new, VoucherStatus.issued):
        raise VoucherStateRefused(
            f"Купон {STATUS_WORDS[before.status]}; аннулировать его нельзя.", parameter="voucher_id"
        )
    after, _ = await move(
        session,
        account_id,
        before,
        kind=MovementKind.void,
        amount_minor=-before.balance_minor,
        uses_delta=0,
        key="void",
        action="voucher.void",
        actor=actor,
        now=now,
        reason=reason,
    )
    return after


async def adjust_balance(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    voucher_id: uuid.UUID,
    amount_minor: int,
    reason: str,
    idempotency_key: str,
    actor: Actor,
    now: datetime,
) -> tuple[VoucherView, bool]:
    """Top up (positive) or reduce (negative) a stored-value voucher, once per key."""
    if amount_minor == 0 or abs(amount_minor) > MAX_MINOR:
        raise _setting("Сумма корректировки — ненулевое целое число копеек", "amount_minor")
    if not reason.strip():
        raise _setting("Укажите причину корректировки", "reason")
    before = await lock_one(session, account_id, voucher_id)
    if not before.has_balance:
        raise VoucherStateRefused("У этого купона нет баланса.", parameter="voucher_id")
    key = f"adjust:{idempotency_key}"
    previous = await voucher_ledger.find(session, account_id, voucher_id, key)
    if previous is None:
        if before.status not in (VoucherStatus.issued, VoucherStatus.redeemed):
            raise VoucherStateRefused(
                f"Купон {STATUS_WORDS[before.status]}; баланс изменить нельзя.",
                parameter="voucher_id",
            )
        if before.balance_minor + amount_minor < 0:
            raise InsufficientVoucherBalance(
                available_minor=before.balance_minor,
                requested_minor=-amount_minor,
                parameter="amount_minor",
            )
    return await move(
        session,
        account_id,
        before,
        kind=MovementKind.adjust,
        amount_minor=amount_minor,
        uses_delta=0,
        key=key,
        action="voucher.adjust",
        actor=actor,
        now=now,
        reason=reason.strip(),
    )


async def update_voucher(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    voucher_id: uuid.UUID,
    changes: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> VoucherView:
    """Change an operator-owned field: expiry, start of validity, note."""
    allowed = {"expires_at", "valid_from", "note"}
    unknown = set(changes) - allowed
    if unknown:
        raise _setting(f"Нельзя изменить: {', '.join(sorted(unknown))}", sorted(unknown)[0])
    before = await lock_one(session, account_id, voucher_id)
    if before.status in (VoucherStatus.void, VoucherStatus.expired):
        raise VoucherStateRefused(f"Купон {STATUS_WORDS[before.status]}.", parameter="voucher_id")
    if changes:
        await repository.update_definition(session, account_id, voucher_id, changes)
    after = await get_voucher(session, account_id, voucher_id)
    await audit_service.record(
        session, audit_event(account_id, actor, "voucher.update", now, before=before, after=after)
    )
    return after


async def expire_due(
    session: AsyncSession, *, account_id: uuid.UUID | None, now: datetime, limit: int = 1000
) -> int:
    """Post the expiry of issued vouchers past their date (their balance is written off).
    Safe with several runners: rows another runner holds are skipped."""
    due = await repository.vouchers_due_for_expiry(session, account_id, now, limit)
    actor = Actor("job:expire-vouchers")
    for row in due:
        before = await lock_one(session, row.account_id, row.id)
        await move(
            session,
            row.account_id,
            before,
            kind=MovementKind.expire,
            amount_minor=-before.balance_minor,
            uses_delta=0,
            key="expire",
            action="voucher.expire",
            actor=actor,
            now=now,
        )
    return len(due)


# Redemption by code (compatibility APIs)


def refusal(voucher: VoucherView, now: datetime, parameter: str) -> VoucherRedeemRefused | None:
    """Why this voucher cannot be used now, or None."""
    status = rules.effective_status(voucher, now)
    if status is not VoucherStatus.issued:
        return VoucherRedeemRefused(
            f"Купон {codes.mask(voucher.code)} {STATUS_WORDS[status]}.", parameter=parameter
        )
    if voucher.valid_from is not None and voucher.valid_from > now:
        return VoucherRedeemRefused(
            f"Купон действует с {voucher.valid_from:%d.%m.%Y}.", parameter=parameter
        )
    return None


async def redeem(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    voucher_id: uuid.UUID,
    amount_minor: int | None,
    pin: str | None,
    idempotency_key: str,
    customer_id: uuid.UUID | None,
    actor: Actor,
    now: datetime,
    parameter: str = "code",
) -> tuple[VoucherView, bool]:
    """Use a voucher by code: a stored-value voucher pays `amount_minor` (all of its balance
    when None); any other takes one use. Returns the voucher after and whether it was a replay."""
    before = await lock_one(session, account_id, voucher_id)
    previous = await voucher_ledger.find(
        session, account_id, voucher_id, f"redeem:{idempotency_key}"
    )
    if previous is None:
        problem = refusal(before, now, parameter)
        if problem is not None:
            raise problem
        if before.pin_protected:
            stored = await repository.pin_hash_of(session, account_id, voucher_id)
            if pin is None or stored is None or not pin_matches(stored, pin):
                raise WrongPin()
        if (
            before.customer_id is not None
            and customer_id is not None
            and customer_id != before.customer_id
        ):
            raise VoucherAssignedToAnotherCustomer()
    amount = before.balance_minor if amount_minor is None else amount_minor
    if not before.has_balance:
        amount = 0
    if previous is None and amount > before.balance_minor:
        raise InsufficientVoucherBalance(
            available_minor=before.balance_minor, requested_minor=amount, parameter=parameter
        )
    return await move(
        session,
        account_id,
        before,
        kind=MovementKind.redeem,
        amount_minor=-amount,
        uses_delta=1,
        key=f"redeem:{idempotency_key}",
        action="voucher.redeem",
        actor=actor,
        now=now,
        applied_minor=amount,
        customer_id=customer_id or before.customer_id,
        parameter=parameter,
    )


async def reverse_redemption(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    voucher_id: uuid.UUID,
    idempotency_key: str,
    actor: Actor,
    now: datetime,
) -> VoucherView | None:
    """Undo a redemption of the voucher made with `idempotency_key` (its amount and use come
    back). None when there was no such redemption."""
    before = await lock_one(session, account_id, voucher_id)
    redemption = await voucher_ledger.find(
        session, account_id, voucher_id, f"redeem:{idempotency_key}"
    )
    if redemption is None:
        return None
    if before.status not in (VoucherStatus.issued, VoucherStatus.redeemed):
        raise VoucherStateRefused(
            f"Купон {STATUS_WORDS[before.status]}; вернуть его использование нельзя.",
            parameter="voucher_id",
        )
    after, _ = await undo(
        session,
        account_id,
        before,
        redemption,
        key=f"reverse:{idempotency_key}",
        action="voucher.reverse",
        actor=actor,
        now=now,
    )
    return after


# Personal vouchers at the till


async def choose_for_receipt(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    receipt_total_minor: int,
    now: datetime,
) -> VoucherChoice | None:
    """The customer's best valid voucher for this receipt (read-only, deterministic)."""
    candidates = await repository.personal_candidates(session, account_id, customer_id)
    return rules.best_voucher(candidates, receipt_total_minor, now)


async def consume_for_sale(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    receipt_total_minor: int,
    implied_voucher_minor: int,
    sale_id: int,
    actor: Actor,
    now: datetime,
    settings: Settings,
    holds_vouchers: bool | None = None,
) -> VoucherChoice | None:
    """Re-derive the voucher the recalc applied and use it once (the caller holds the
    customer's lock, so the same customer's sales are serialised).

    A receipt priced with a voucher that another till has used since gets a 412 asking for a
    recalc, just as an overspent points balance does. `holds_vouchers=False` (read with the
    customer) skips the candidates' query.
    """
    best = (
        None
        if holds_vouchers is False
        else await choose_for_receipt(
            session,
            account_id=account_id,
            customer_id=customer_id,
            receipt_total_minor=receipt_total_minor,
            now=now,
        )
    )
    lost = False
    if implied_voucher_minor > 0 and (best is None or best.discount_minor < implied_voucher_minor):
        since = now - timedelta(seconds=settings.VOUCHER_RECALC_WINDOW_SECONDS)
        lost = await repository.lost_since(session, account_id, customer_id, since, now)
    decision = rules.reconcile(implied_voucher_minor, best, recently_lost=lost)
    if decision.refuse:
        if best is not None and best.discount_minor > implied_voucher_minor:
            raise VoucherNotInReceipt()
        raise VoucherNoLongerAvailable()
    choice = decision.consume
    if choice is None:
        return None
    voucher = choice.voucher
    locked = await lock_one(session, account_id, voucher.id)
    if (
        not rules.is_usable(locked, now)
        or rules.discount_minor(locked, receipt_total_minor) != choice.discount_minor
    ):
        raise VoucherNoLongerAvailable()
    await move(
        session,
        account_id,
        locked,
        kind=MovementKind.redeem,
        amount_minor=-choice.discount_minor if locked.has_balance else 0,
        uses_delta=1,
        key=f"sale:{sale_id}",
        action="voucher.redeem",
        actor=actor,
        now=now,
        applied_minor=choice.discount_minor,
        customer_id=customer_id,
        sale_id=sale_id,
    )
    return choice


async def give_back_for_full_return(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    sale_id: int,
    return_id: int,
    actor: Actor,
    now: datetime,
) -> int:
    """A sale returned in full gives back the personal voucher uses it consumed (and any
    balance they drew). Vouchers that can no longer be used get nothing back."""
    movements = [
        movement
        for movement in await repository.movements_of_sale(session, account_id, sale_id)
        if movement.kind == MovementKind.redeem.value and movement.uses_delta > 0
    ]
    discount_uses = []
    for movement in movements:
        view = await repository.get_voucher(session, account_id, movement.voucher_id)
        if view is not None and view.voucher_type is not VoucherType.gift:
            discount_uses.append(movement)
    given = 0
    for movement in discount_uses:
        before = await lock_one(session, account_id, movement.voucher_id)
        if before.status not in (
            VoucherStatus.issued,
            VoucherStatus.redeemed,
        ) or rules.is_past_expiry(before, now):
            continue
        _, replayed = await undo(
            session,
            account_id,
            before,
            movement,
            key=f"sale:{sale_id}:returned",
            action="voucher.return",
            actor=actor,
            now=now,
            sale_id=sale_id,
            return_id=return_id,
        )
        given += not replayed
    return given


# Vouchers tied to a sale


@dataclass(frozen=True)
class SaleVoucher:
    voucher: VoucherView
    amount_minor: int
    uses: int
    applied_at: datetime
    retail_store_id: str | None


SALE_SORTS = {"code", "serialNumber", "amountMinor", "appliedAt", "status"}


async def sale_vouchers(
    session: AsyncSession, account_id: uuid.UUID, sale_reference: str, page: Page
) -> tuple[list[SaleVoucher], int]:
    """Vouchers and certificates a sale used (net of returns), with paging and sorting."""
    found = await repository.find_sale(session, account_id, sale_reference)
    if found is None:
        raise SaleNotFound(sale_reference)
    grouped: dict[uuid.UUID, list[MovementView]] = {}
    for movement in await repository.movements_of_sale(session, account_id, found.id):
        grouped.setdefault(movement.voucher_id, []).append(movement)
    items = []
    for voucher_id, movements in grouped.items():
        view = await repository.get_voucher(session, account_id, voucher_id)
        assert view is not None
        items.append(
            SaleVoucher(
                voucher=view,
                amount_minor=sum(
                    movement.applied_minor
                    if movement.applied_minor is not None
                    else -movement.amount_minor
                    for movement in movements
                ),
                uses=sum(movement.uses_delta for movement in movements),
                applied_at=min(movement.occurred_at for movement in movements),
                retail_store_id=movements[0].retail_store_id,
            )
        )
    keys: dict[str, Callable[[SaleVoucher], Any]] = {
        "code": lambda item: item.voucher.code,
        "serialNumber": lambda item: item.voucher.serial_number,
        "amountMinor": lambda item: item.amount_minor,
        "appliedAt": lambda item: item.applied_at,
        "status": lambda item: item.voucher.status.value,
    }
    items.sort(key=keys[page.sort], reverse=page.descending)
    return items[page.offset : page.offset + page.count], len(items)


# CSV import and export


@dataclass(frozen=True)
class ImportResult:
    account_id: uuid.UUID
    created: int
    skipped_existing: list[str]


def _refused_row(row: ImportRow, message: str) -> CsvImportRefused:
    return CsvImportRefused(f"Строка {row.line}: {message}", parameter="file")


async def _import_batch(
    session: AsyncSession,
    account_id: uuid.UUID | None,
    reference: str,
    cache: dict[str, BatchView],
    row: ImportRow,
) -> BatchView:
    if reference in cache:
        return cache[reference]
    try:
        batch_id: uuid.UUID | None = uuid.UUID(reference)
    except ValueError:
        batch_id = None
    if batch_id is not None:
        found = await repository.get_batch(session, account_id, batch_id)
    elif account_id is not None:
        found = await repository.get_batch_by_code(session, account_id, reference)
    else:
        raise _refused_row(row, f"серия «{reference}» задана кодом — укажите аккаунт (--account)")
    if found is None:
        raise _refused_row(row, f"серия «{reference}» не найдена")
    cache[reference] = found
    return found


def _opening(row: ImportRow, batch: BatchView) -> tuple[int, int, int | None]:
    """Balance, used count and use limit a row brings in, checked against its batch."""
    usage_limit = row.usage_limit or batch.uses_per_voucher
    if batch.has_balance:
        balance = batch.face_value_minor or 0 if row.balance_minor is None else row.balance_minor
        if row.status is VoucherStatus.redeemed:
            balance = 0 if row.balance_minor is None else balance
    else:
        if row.balance_minor:
            raise _refused_row(row, "у купона этой серии нет баланса (balance_minor)")
        balance = 0
    if usage_limit is not None and row.used_count > usage_limit:
        raise _refused_row(row, "used_count больше лимита использований")
    exhausted = (batch.has_balance and balance == 0) or (
        usage_limit is not None and row.used_count >= usage_limit
    )
    if row.status is VoucherStatus.redeemed and not exhausted:
        raise _refused_row(row, "статус REDEEMED, но у купона остался баланс или использования")
    if row.status is VoucherStatus.issued and exhausted:
        raise _refused_row(row, "статус ISSUED, но купон уже исчерпан (укажите REDEEMED)")
    return balance, row.used_count, usage_limit


async def import_vouchers(
    session: AsyncSession,
    *,
    account_id: uuid.UUID | None,
    rows: list[ImportRow],
    default_batch: str | None,
    actor: Actor,
    now: datetime,
) -> ImportResult:
    """Import codes made elsewhere (origin SELF), with their opening balance and uses; all or
    nothing. Codes the account already has are skipped and reported."""
    if not rows:
        raise CsvImportRefused("В файле нет строк с купонами", parameter="file")
    cache: dict[str, BatchView] = {}
    planned: list[tuple[ImportRow, BatchView]] = []
    for row in rows:
        reference = row.batch or default_batch
        if not reference:
            raise _refused_row(row, "не указана серия (колонка batch или параметр --batch)")
        batch = await _import_batch(session, account_id, reference, cache, row)
        if account_id is None:
            account_id = batch.account_id
        if batch.account_id != account_id:
            raise _refused_row(row, "все строки файла должны относиться к одному аккаунту")
        planned.append((row, batch))
    assert account_id is not None
    existing = await repository.existing_codes(session, account_id, [row.code for row in rows])
    customers: dict[str, uuid.UUID] = {}
    staged: dict[uuid.UUID, list[StagedVoucher]] = {}
    movements: list[Movement] = []
    fresh = [(row, batch) for row, batch in planned if row.code not in existing]
    first_serial = await repository.reserve_serials(session, account_id, len(fresh)) if fresh else 0
    for offset, (row, batch) in enumerate(fresh):
        balance, used, usage_limit = _opening(row, batch)
        customer_id = None
        if row.customer:
            if row.customer not in customers:
                try:
                    found = await customers_service.find_for_operator(
                        session, account_id, row.customer
                    )
                except DomainError as error:
                    raise _refused_row(row, error.message) from error
                customers[row.customer] = found.id
            customer_id = customers[row.customer]
        voucher_id = uuid.uuid4()
        staged.setdefault(batch.id, []).append(
            StagedVoucher(
                id=voucher_id,
                serial_number=first_serial + offset,
                code=row.code,
                customer_id=customer_id,
                expires_at=row.expires_at,
                valid_from=row.valid_from,
                usage_limit=usage_limit,
                pin_hash=hash_pin(row.pin) if row.pin else None,
                note=row.note,
            )
        )
        if row.status is not VoucherStatus.new:
            movements.append(
                Movement(
                    voucher_id=voucher_id,
                    batch_id=batch.id,
                    kind=MovementKind.opening,
                    amount_minor=balance,
                    uses_delta=used,
                    idempotency_key="import",
                    occurred_at=now,
                    customer_id=customer_id,
                    actor=actor.name,
                )
            )
        if row.status is VoucherStatus.void:
            movements.append(
                Movement(
                    voucher_id=voucher_id,
                    batch_id=batch.id,
                    kind=MovementKind.void,
                    amount_minor=-balance,
                    uses_delta=0,
                    idempotency_key="void",
                    occurred_at=now,
                    actor=actor.name,
                    reason="Импорт: аннулирован",
                )
            )
    created = 0
    for batch_id, batch_rows in staged.items():
        batch = next(batch for _, batch in fresh if batch.id == batch_id)
        for start in range(0, len(batch_rows), GENERATION_CHUNK):
            chunk = batch_rows[start : start + GENERATION_CHUNK]
            inserted = await repository.bulk_insert(
                session, account_id=account_id, batch=batch, rows=chunk, origin="SELF"
            )
            if len(inserted) != len(chunk):
                clash = next(row.code for row in chunk if row.serial_number not in inserted)
                raise VoucherCodeTaken(clash, parameter="file")
            created += len(chunk)
    issued = [
        movement.voucher_id for movement in movements if movement.kind is MovementKind.opening
    ]
    await repository.set_issued_at(session, account_id, issued, now)
    await voucher_ledger.post_many(session, account_id, movements)
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor.name,
            action="voucher.import",
            entity_type="voucher_batch",
            entity_id=",".join(sorted({str(batch.id) for _, batch in fresh})) or None,
            occurred_at=now,
            after={"created": created, "skipped_existing": len(existing)},
        ),
    )
    return ImportResult(account_id, created, sorted(existing))


async def export_batch(session: AsyncSession, batch: BatchView, now: datetime) -> str:
    """The batch's vouchers as CSV text (effective statuses as of `now`)."""
    chunks = await repository.stream_batch(session, batch.account_id, batch.id, GENERATION_CHUNK)
    rows: list[list[str]] = []
    for chunk in chunks:
        statuses = {str(view.id): rules.effective_status(view, now).value for view in chunk}
        rows.extend(csv_format.export_rows(chunk, statuses))
    return csv_format.to_text(rows)
