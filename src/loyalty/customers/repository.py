"""Customer storage and look-ups."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.db import driver
from loyalty.models import customer, retired_card, voucher
from loyalty.vouchers.schemas import VoucherStatus, VoucherType


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def holds_vouchers_column() -> sa.Label[bool]:
    """Whether the customer holds an issued discount voucher: most hold none, and then the
    till's voucher query is skipped."""
    return (
        sa.exists()
        .where(
            voucher.c.account_id == customer.c.account_id,
            voucher.c.customer_id == customer.c.id,
            voucher.c.status == VoucherStatus.issued.value,
            voucher.c.voucher_type != VoucherType.gift.value,
        )
        .label("holds_vouchers")
    )


@functools.cache
def reference_select(by_our_id: bool, lock: str | None = None) -> sa.Select[Any]:
    """The customer a till reference names: the MoySklad id, our id or the till's syncId (in
    that preference). Built once per shape and bound with `reference_params`: the till's
    hottest look-up then costs no statement building or cache-key walk."""
    reference = sa.bindparam("reference", type_=sa.Text)
    matches = [customer.c.moysklad_id == reference, customer.c.sync_id == reference]
    # NULLS LAST: a customer without a MoySklad id compares as NULL, which DESC puts first.
    preference = [(customer.c.moysklad_id == reference).desc().nulls_last()]
    if by_our_id:
        our_id = sa.bindparam("our_id", type_=customer.c.id.type)
        matches.append(customer.c.id == our_id)
        preference.append((customer.c.id == our_id).desc().nulls_last())
    query = (
        sa.select(customer)
        .where(customer.c.account_id == sa.bindparam("account_id"), sa.or_(*matches))
        .order_by(*preference)
        .limit(1)
    )
    if lock == "update":
        query = query.with_for_update()
    elif lock == "share":
        # A sale's look-up: the voucher question rides along (the row lock covers only
        # the customer).
        query = query.add_columns(holds_vouchers_column()).with_for_update(read=True, of=customer)
    return query


def reference_params(account_id: uuid.UUID, reference: str) -> tuple[bool, dict[str, Any]]:
    """Whether the reference can be our id, and the parameters of `reference_select`."""
    our_id = _as_uuid(reference)
    params: dict[str, Any] = {"account_id": account_id, "reference": reference}
    if our_id is not None:
        params["our_id"] = our_id
    return our_id is not None, params


async def find_by_reference(
    session: AsyncSession,
    account_id: uuid.UUID,
    reference: str,
    *,
    for_update: bool = False,
    for_share: bool = False,
) -> Any | None:
    by_our_id, params = reference_params(account_id, reference)
    lock = "update" if for_update else "share" if for_share else None
    return await driver.fetch_one(session, _reference_statement(by_our_id, lock), params)


@functools.cache
def _reference_statement(by_our_id: bool, lock: str | None) -> driver.Statement:
    return driver.compiled(reference_select(by_our_id, lock))


async def find_by_identity(
    session: AsyncSession, account_id: uuid.UUID, moysklad_id: str | None, sync_id: str | None
) -> Any | None:
    matches = []
    if moysklad_id:
        matches.append(customer.c.moysklad_id == moysklad_id)
    if sync_id:
        matches.append(customer.c.sync_id == sync_id)
    if not matches:
        return None
    query = (
        sa.select(customer)
        .where(customer.c.account_id == account_id, sa.or_(*matches))
        .order_by(
            (customer.c.moysklad_id == moysklad_id).desc().nulls_last()
            if moysklad_id
            else sa.literal(0)
        )
        .limit(1)
        .with_for_update()
    )
    return (await session.execute(query)).one_or_none()


async def get(session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID) -> Any | None:
    return (
        await session.execute(
            sa.select(customer).where(
                customer.c.account_id == account_id, customer.c.id == customer_id
            )
        )
    ).one_or_none()


async def insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """None when any unique key (MoySklad id, syncId, card number) is already taken."""
    result = await session.execute(
        pg_insert(customer).values(**values).on_conflict_do_nothing().returning(customer.c.id)
    )
    inserted: uuid.UUID | None = result.scalar_one_or_none()
    return inserted


async def card_owner(
    session: AsyncSession, account_id: uuid.UUID, card_number: str
) -> uuid.UUID | None:
    result = await session.execute(
        sa.select(customer.c.id).where(
            customer.c.account_id == account_id, customer.c.card_number == card_number
        )
    )
    return result.scalar_one_or_none()


RETIRED_CARD_CONSTRAINT = "ck_customer_card_number_not_retired"  # migration 0013's trigger


async def retire_card(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    card_number: str,
    now: datetime,
) -> None:
    await session.execute(
        pg_insert(retired_card)
        .values(
            account_id=account_id,
            customer_id=customer_id,
            card_number=card_number,
            retired_at=now,
        )
        .on_conflict_do_nothing()
    )


async def retired_cards_of(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[Any]:
    rows = await session.execute(
        sa.select(retired_card.c.card_number, retired_card.c.retired_at)
        .where(retired_card.c.account_id == account_id, retired_card.c.customer_id == customer_id)
        .order_by(retired_card.c.retired_at, retired_card.c.card_number)
    )
    return list(rows)


async def forget_retired_cards(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> None:
    await session.execute(
        sa.delete(retired_card).where(
            retired_card.c.account_id == account_id, retired_card.c.customer_id == customer_id
        )
    )


def assigns_retired_card(error: IntegrityError) -> bool:
    """The write put a retired card number on a customer. The trigger of migration 0013 is the
    one check: it also sees a replacement that committed while the write waited on the old
    number's row, which a look beforehand would miss."""
    cause = getattr(error.orig, "__cause__", None)
    return getattr(cause, "constraint_name", None) == RETIRED_CARD_CONSTRAINT


async def update(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await session.execute(
        sa.update(customer)
        .where(customer.c.account_id == account_id, customer.c.id == customer_id)
        .values(**values, updated_at=sa.func.now())
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    text: str,
    phone_index: bytes | None,
    limit: int,
) -> list[Any]:
    """Exact phone, card and e-mail matches first, then case-insensitive name substrings."""
    lowered = text.lower()
    exact = [customer.c.card_number == text, sa.func.lower(customer.c.email) == lowered]
    if phone_index is not None:
        exact.append(customer.c.phone_index == phone_index)
    name_match = sa.func.lower(customer.c.name).like(f"%{_escape_like(lowered)}%", escape="\\")
    conditions = [*exact, name_match] if len(text) >= 2 else exact
    rank = sa.case((sa.or_(*exact), 0), else_=1)
    rows = await session.execute(
        sa.select(customer)
        .where(
            customer.c.account_id == account_id,
            sa.or_(*conditions),
            # Merged and erased customers are closed; the cashier should find the survivor.
            customer.c.status.notin_(("merged", "erased")),
        )
        .order_by(rank, customer.c.name, customer.c.id)
        .limit(limit)
    )
    return list(rows)


async def find_by_card_or_phone(
    session: AsyncSession, account_id: uuid.UUID, card_number: str, phone_index: bytes | None
) -> list[Any]:
    matches = [customer.c.card_number == card_number]
    if phone_index is not None:
        matches.append(customer.c.phone_index == phone_index)
    rows = await session.execute(
        sa.select(customer).where(customer.c.account_id == account_id, sa.or_(*matches)).limit(5)
    )
    return list(rows)


# Everything that identifies or describes a person; cleared by an erasure. A new personal
# column must be added here (tests/backoffice and tests/solution erase and check every one).
PERSONAL_COLUMNS = (
    "name",
    "phone_ciphertext",
    "phone_index",
    "email",
    "card_number",
    "legal_first_name",
    "legal_middle_name",
    "legal_last_name",
    "birth_date",
    "sex",
)


async def erase_personal_data(session: AsyncSession, account_id: uuid.UUID) -> int:
    """Data retention after an uninstall: every personal column is cleared; MoySklad ids,
    status and balances stay, as the ledger (an accounting record) does."""
    erased = dict.fromkeys(PERSONAL_COLUMNS)
    result = await session.execute(
        sa.update(customer)
        .where(customer.c.account_id == account_id)
        .values(**erased, updated_at=sa.func.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)
