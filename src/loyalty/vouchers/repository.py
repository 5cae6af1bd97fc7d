"""Voucher batches and voucher definitions: storage and look-ups.

Balances, uses and status are written by `ledger.vouchers` only; this module writes what an
operator defines (batches, codes, owner, dates) and reads everything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.ledger.voucher_repository import VOUCHER_JOIN_BATCH, VOUCHER_WITH_BATCH
from loyalty.models import (
    sale,
    voucher,
    voucher_batch,
    voucher_customer_usage,
    voucher_generation,
    voucher_movement,
    voucher_serial,
)
from loyalty.vouchers.schemas import (
    BatchView,
    ExpiryType,
    MovementView,
    Page,
    VoucherStatus,
    VoucherType,
    VoucherView,
)

STAGING_COLUMNS = (
    "id",
    "serial_number",
    "code",
    "customer_id",
    "expires_at",
    "valid_from",
    "usage_limit",
    "pin_hash",
    "note",
)


def batch_view(row: Any) -> BatchView:
    return BatchView(
        id=row.id,
        account_id=row.account_id,
        code=row.code,
        name=row.name,
        voucher_type=VoucherType(row.voucher_type),
        currency=row.currency,
        face_value_minor=row.face_value_minor,
        discount_percent=row.discount_percent,
        has_balance=row.has_balance,
        min_spend_minor=row.min_spend_minor,
        max_use_percent=row.max_use_percent,
        uses_per_voucher=row.uses_per_voucher,
        usage_limit=row.usage_limit,
        per_customer_limit=row.per_customer_limit,
        used_count=row.used_count,
        expiry_type=ExpiryType(row.expiry_type),
        expires_at=row.expires_at,
        expiry_days=row.expiry_days,
        code_length=row.code_length,
        code_alphabet=row.code_alphabet,
        code_prefix=row.code_prefix,
        note=row.note,
        created_at=row.created_at,
    )


def voucher_view(row: Any) -> VoucherView:
    return VoucherView(
        id=row.id,
        account_id=row.account_id,
        batch_id=row.batch_id,
        batch_code=row.batch_code,
        batch_name=row.batch_name,
        batch_limited=row.batch_limited,
        serial_number=row.serial_number,
        code=row.code,
        voucher_type=VoucherType(row.voucher_type),
        currency=row.currency,
        face_value_minor=row.face_value_minor,
        discount_percent=row.discount_percent,
        has_balance=row.has_balance,
        min_spend_minor=row.min_spend_minor,
        max_use_percent=row.max_use_percent,
        usage_limit=row.usage_limit,
        pin_protected=row.pin_hash is not None,
        customer_id=row.customer_id,
        origin=row.origin,
        note=row.note,
        valid_from=row.valid_from,
        expires_at=row.expires_at,
        issued_at=row.issued_at,
        status=VoucherStatus(row.status),
        balance_minor=row.balance_minor,
        initial_balance_minor=row.initial_balance_minor,
        used_count=row.used_count,
        version=row.version,
        last_used_at=row.last_used_at,
        status_changed_at=row.status_changed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _select_vouchers() -> sa.Select[Any]:
    return sa.select(*VOUCHER_WITH_BATCH).select_from(VOUCHER_JOIN_BATCH)


# Batches


async def insert_batch(session: AsyncSession, values: dict[str, Any]) -> BatchView | None:
    """None when the batch code is already taken in the account."""
    row = (
        await session.execute(
            pg_insert(voucher_batch)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["account_id", "code"])
            .returning(voucher_batch)
        )
    ).one_or_none()
    return None if row is None else batch_view(row)


async def get_batch(
    session: AsyncSession, account_id: uuid.UUID | None, batch_id: uuid.UUID
) -> BatchView | None:
    """`account_id` None: any account (batch ids are UUIDs; the CLI names a batch alone)."""
    query = sa.select(voucher_batch).where(voucher_batch.c.id == batch_id)
    if account_id is not None:
        query = query.where(voucher_batch.c.account_id == account_id)
    row = (await session.execute(query)).one_or_none()
    return None if row is None else batch_view(row)


async def get_batch_by_code(
    session: AsyncSession, account_id: uuid.UUID, code: str
) -> BatchView | None:
    row = (
        await session.execute(
            sa.select(voucher_batch).where(
                voucher_batch.c.account_id == account_id, voucher_batch.c.code == code
            )
        )
    ).one_or_none()
    return None if row is None else batch_view(row)


async def list_batches(session: AsyncSession, account_id: uuid.UUID) -> list[BatchView]:
    rows = await session.execute(
        sa.select(voucher_batch)
        .where(voucher_batch.c.account_id == account_id)
        .order_by(voucher_batch.c.created_at, voucher_batch.c.id)
    )
    return [batch_view(row) for row in rows]


async def batch_voucher_counts(
    session: AsyncSession, account_id: uuid.UUID, batch_id: uuid.UUID
) -> dict[str, int]:
    rows = await session.execute(
        sa.select(voucher.c.status, sa.func.count())
        .where(voucher.c.account_id == account_id, voucher.c.batch_id == batch_id)
        .group_by(voucher.c.status)
    )
    return {status: int(count) for status, count in rows}


async def code_formats(session: AsyncSession, account_id: uuid.UUID) -> list[tuple[int, str, str]]:
    rows = await session.execute(
        sa.select(
            voucher_batch.c.code_length, voucher_batch.c.code_alphabet, voucher_batch.c.code_prefix
        )
        .where(voucher_batch.c.account_id == account_id)
        .distinct()
    )
    return [(row.code_length, row.code_alphabet, row.code_prefix) for row in rows]


# Serial numbers and bulk insertion


async def reserve_serials(session: AsyncSession, account_id: uuid.UUID, count: int) -> int:
    """Reserve `count` consecutive serial numbers; returns the first. Held until commit."""
    last = (
        await session.execute(
            pg_insert(voucher_serial)
            .values(account_id=account_id, last_serial=count)
            .on_conflict_do_update(
                index_elements=["account_id"],
                set_={"last_serial": voucher_serial.c.last_serial + count},
            )
            .returning(voucher_serial.c.last_serial)
        )
    ).scalar_one()
    return int(last) - count + 1


@dataclass(frozen=True)
class StagedVoucher:
    id: uuid.UUID
    serial_number: int
    code: str
    customer_id: uuid.UUID | None = None
    expires_at: datetime | None = None
    valid_from: datetime | None = None
    usage_limit: int | None = None
    pin_hash: bytes | None = None
    note: str | None = None


async def bulk_insert(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    batch: BatchView,
    rows: list[StagedVoucher],
    origin: str,
    issued_at: datetime | None = None,
) -> set[int]:
    """COPY rows into a staging table, then insert them in one statement, skipping codes the
    account already has. Returns the serial numbers that were inserted. With `issued_at` the
    rows carry their issue date already (they are issued right after, in the same
    transaction)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.execute(
        "CREATE TEMP TABLE IF NOT EXISTS voucher_staging ("
        " id uuid, serial_number bigint, code text, customer_id uuid,"
        " expires_at timestamptz, valid_from timestamptz, usage_limit integer,"
        " pin_hash bytea, note text) ON COMMIT DROP"
    )
    await driver.execute("TRUNCATE voucher_staging")
    await driver.copy_records_to_table(
        "voucher_staging",
        records=[
            (
                row.id,
                row.serial_number,
                row.code,
                row.customer_id,
                row.expires_at,
                row.valid_from,
                row.usage_limit,
                row.pin_hash,
                row.note,
            )
            for row in rows
        ],
        columns=list(STAGING_COLUMNS),
    )
    inserted = await session.execute(
        sa.text(
            """
            INSERT INTO voucher (account_id, id, batch_id, serial_number, code, voucher_type,
                                 currency, face_value_minor, discount_percent, has_balance,
                                 min_spend_minor, max_use_percent, usage_limit, pin_hash,
                                 customer_id, origin, note, valid_from, expires_at, issued_at)
            SELECT :account_id, s.id, :batch_id, s.serial_number, s.code, :voucher_type,
                   :currency, :face_value_minor, :discount_percent, :has_balance,
                   :min_spend_minor, :max_use_percent, coalesce(s.usage_limit, :uses_per_voucher),
                   s.pin_hash, s.customer_id, :origin, s.note, s.valid_from, s.expires_at,
                   :issued_at
              FROM voucher_staging s
             ORDER BY s.serial_number
            ON CONFLICT (account_id, code) DO NOTHING
            RETURNING serial_number
            """
        ).bindparams(
            sa.bindparam("account_id", type_=sa.Uuid),
            sa.bindparam("batch_id", type_=sa.Uuid),
            sa.bindparam("discount_percent", type_=sa.Numeric(5, 2)),
            sa.bindparam("max_use_percent", type_=sa.Numeric(5, 2)),
            sa.bindparam("face_value_minor", type_=sa.BigInteger),
            sa.bindparam("uses_per_voucher", type_=sa.Integer),
            sa.bindparam("issued_at", type_=sa.DateTime(timezone=True)),
        ),
        {
            "account_id": account_id,
            "batch_id": batch.id,
            "voucher_type": batch.voucher_type.value,
            "currency": batch.currency,
            "face_value_minor": batch.face_value_minor,
            "discount_percent": batch.discount_percent,
            "has_balance": batch.has_balance,
            "min_spend_minor": batch.min_spend_minor,
            "max_use_percent": batch.max_use_percent,
            "uses_per_voucher": batch.uses_per_voucher,
            "origin": origin,
            "issued_at": issued_at,
        },
    )
    return {int(row.serial_number) for row in inserted}


async def existing_codes(
    session: AsyncSession, account_id: uuid.UUID, codes: list[str]
) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(codes), 10_000):
        rows = await session.execute(
            sa.select(voucher.c.code).where(
                voucher.c.account_id == account_id,
                voucher.c.code.in_(codes[start : start + 10_000]),
            )
        )
        found.update(row.code for row in rows)
    return found


async def set_issued_at(
    session: AsyncSession, account_id: uuid.UUID, voucher_ids: list[uuid.UUID], issued_at: datetime
) -> None:
    for start in range(0, len(voucher_ids), 10_000):
        await session.execute(
            sa.update(voucher)
            .where(
                voucher.c.account_id == account_id,
                voucher.c.id.in_(voucher_ids[start : start + 10_000]),
            )
            .values(issued_at=issued_at)
        )


async def insert_generation(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """None when the idempotency key was used before."""
    result = await session.execute(
        pg_insert(voucher_generation)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["account_id", "idempotency_key"])
        .returning(voucher_generation.c.id)
    )
    generation_id: int | None = result.scalar_one_or_none()
    return generation_id


async def find_generation(session: AsyncSession, account_id: uuid.UUID, key: str) -> Any | None:
    return (
        await session.execute(
            sa.select(voucher_generation).where(
                voucher_generation.c.account_id == account_id,
                voucher_generation.c.idempotency_key == key,
            )
        )
    ).one_or_none()


# Single vouchers


async def insert_voucher(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when the account already has this code."""
    result = await session.execute(
        pg_insert(voucher)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["account_id", "code"])
        .returning(voucher.c.id)
    )
    return result.scalar_one_or_none() is not None


async def get_voucher(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID
) -> VoucherView | None:
    row = (
        await session.execute(
            _select_vouchers().where(voucher.c.account_id == account_id, voucher.c.id == voucher_id)
        )
    ).one_or_none()
    return None if row is None else voucher_view(row)


async def find_by_code(
    session: AsyncSession, account_id: uuid.UUID | None, codes: list[str]
) -> list[VoucherView]:
    """Vouchers whose code is one of `codes` (the spelling as given, then the canonical one);
    across all accounts when `account_id` is None."""
    query = _select_vouchers().where(voucher.c.code.in_(codes))
    if account_id is not None:
        query = query.where(voucher.c.account_id == account_id)
    rows = await session.execute(query.order_by(voucher.c.account_id).limit(10))
    by_code: dict[str, list[VoucherView]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(voucher_view(row))
    for code in codes:
        if code in by_code:
            return by_code[code]
    return []


async def update_definition(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await session.execute(
        sa.update(voucher)
        .where(voucher.c.account_id == account_id, voucher.c.id == voucher_id)
        .values(**values, updated_at=sa.func.now())
    )


async def pin_hash_of(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID
) -> bytes | None:
    result = await session.execute(
        sa.select(voucher.c.pin_hash).where(
            voucher.c.account_id == account_id, voucher.c.id == voucher_id
        )
    )
    stored: bytes | None = result.scalar_one_or_none()
    return stored


_USAGE = voucher_customer_usage
# Built once, bound per call: read by every sale of a customer who holds a voucher.
_PERSONAL_CANDIDATES = (
    _select_vouchers()
    .outerjoin(
        _USAGE,
        sa.and_(
            _USAGE.c.account_id == voucher.c.account_id,
            _USAGE.c.batch_id == voucher.c.batch_id,
            _USAGE.c.customer_id == voucher.c.customer_id,
        ),
    )
    .where(
        voucher.c.account_id == sa.bindparam("account_id"),
        voucher.c.customer_id == sa.bindparam("customer_id"),
        voucher.c.status == VoucherStatus.issued.value,
        voucher.c.voucher_type != VoucherType.gift.value,
        sa.or_(
            voucher_batch.c.usage_limit.is_(None),
            voucher_batch.c.used_count < voucher_batch.c.usage_limit,
        ),
        sa.or_(
            voucher_batch.c.per_customer_limit.is_(None),
            sa.func.coalesce(_USAGE.c.used_count, 0) < voucher_batch.c.per_customer_limit,
        ),
    )
)


async def personal_candidates(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[VoucherView]:
    """The customer's issued discount vouchers whose batch still has uses for them
    (the voucher's own usability is decided by the rules)."""
    rows = await session.execute(
        _PERSONAL_CANDIDATES, {"account_id": account_id, "customer_id": customer_id}
    )
    return [voucher_view(row) for row in rows]


async def lost_since(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    since: datetime,
    now: datetime,
) -> bool:
    """Did a discount voucher of the customer stop being usable since `since`?"""
    closed = sa.and_(
        voucher.c.status.in_(("REDEEMED", "VOID", "EXPIRED")),
        voucher.c.status_changed_at >= since,
    )
    ran_out = voucher.c.expires_at.between(since, now)
    used = voucher.c.last_used_at >= since
    result = await session.execute(
        sa.select(
            sa.exists().where(
                voucher.c.account_id == account_id,
                voucher.c.customer_id == customer_id,
                voucher.c.voucher_type != VoucherType.gift.value,
                sa.or_(closed, ran_out, used),
            )
        )
    )
    return bool(result.scalar())


SORTABLE = {
    "serialNumber": voucher.c.serial_number,
    "code": voucher.c.code,
    "status": voucher.c.status,
    "createdAt": voucher.c.created_at,
    "issuedAt": voucher.c.issued_at,
    "expiresAt": voucher.c.expires_at,
    "balanceMinor": voucher.c.balance_minor,
    "usedCount": voucher.c.used_count,
}


@dataclass(frozen=True)
class VoucherFilter:
    batch_id: uuid.UUID | None = None
    status: str | None = None
    voucher_type: str | None = None
    customer_id: uuid.UUID | None = None
    code_prefix: str | None = None
    expires_before: datetime | None = None


async def page_vouchers(
    session: AsyncSession, account_id: uuid.UUID, where: VoucherFilter, page: Page
) -> tuple[list[VoucherView], int]:
    conditions = [voucher.c.account_id == account_id]
    if where.batch_id is not None:
        conditions.append(voucher.c.batch_id == where.batch_id)
    if where.status is not None:
        conditions.append(voucher.c.status == where.status)
    if where.voucher_type is not None:
        conditions.append(voucher.c.voucher_type == where.voucher_type)
    if where.customer_id is not None:
        conditions.append(voucher.c.customer_id == where.customer_id)
    if where.code_prefix:
        conditions.append(voucher.c.code.startswith(where.code_prefix, autoescape=True))
    if where.expires_before is not None:
        conditions.append(voucher.c.expires_at < where.expires_before)
    column = SORTABLE[page.sort]
    order = column.desc().nulls_last() if page.descending else column.asc().nulls_last()
    rows = await session.execute(
        _select_vouchers()
        .where(*conditions)
        .order_by(order, voucher.c.id)
        .limit(page.count)
        .offset(page.offset)
    )
    total = await session.execute(
        sa.select(sa.func.count()).select_from(voucher).where(*conditions)
    )
    return [voucher_view(row) for row in rows], int(total.scalar_one())


async def stream_batch(
    session: AsyncSession, account_id: uuid.UUID, batch_id: uuid.UUID, chunk: int
) -> list[list[VoucherView]]:
    """All vouchers of a batch in serial order, in chunks (for CSV export)."""
    rows = await session.execute(
        _select_vouchers()
        .where(voucher.c.account_id == account_id, voucher.c.batch_id == batch_id)
        .order_by(voucher.c.serial_number)
    )
    views = [voucher_view(row) for row in rows]
    return [views[start : start + chunk] for start in range(0, len(views), chunk)]


def movement_view(row: Any) -> MovementView:
    return MovementView(
        id=row.id,
        voucher_id=row.voucher_id,
        code=row.code,
        kind=row.kind,
        amount_minor=row.amount_minor,
        uses_delta=row.uses_delta,
        applied_minor=row.applied_minor,
        balance_after_minor=row.balance_after_minor,
        used_count_after=row.used_count_after,
        customer_id=row.customer_id,
        sale_id=row.sale_id,
        return_id=row.return_id,
        retail_store_id=row.retail_store_id,
        document=row.document,
        actor=row.actor,
        reason=row.reason,
        occurred_at=row.occurred_at,
    )


_MOVEMENT_WITH_CODE = sa.select(*voucher_movement.c, voucher.c.code).select_from(
    voucher_movement.join(
        voucher,
        sa.and_(
            voucher.c.account_id == voucher_movement.c.account_id,
            voucher.c.id == voucher_movement.c.voucher_id,
        ),
    )
)


async def movements_of_voucher(
    session: AsyncSession, account_id: uuid.UUID, voucher_id: uuid.UUID, limit: int
) -> list[MovementView]:
    rows = await session.execute(
        _MOVEMENT_WITH_CODE.where(
            voucher_movement.c.account_id == account_id,
            voucher_movement.c.voucher_id == voucher_id,
        )
        .order_by(voucher_movement.c.id.desc())
        .limit(limit)
    )
    return [movement_view(row) for row in rows]


async def movements_of_sale(
    session: AsyncSession, account_id: uuid.UUID, sale_id: int
) -> list[MovementView]:
    rows = await session.execute(
        _MOVEMENT_WITH_CODE.where(
            voucher_movement.c.account_id == account_id, voucher_movement.c.sale_id == sale_id
        ).order_by(voucher_movement.c.id)
    )
    return [movement_view(row) for row in rows]


async def find_sale(session: AsyncSession, account_id: uuid.UUID, reference: str) -> Any | None:
    """A sale by its MoySklad id, or by our numeric id."""
    matches = [sale.c.idempotency_key == f"ms:{reference}"]
    if reference.isdigit() and len(reference) < 19:
        matches.append(sale.c.id == int(reference))
    return (
        await session.execute(
            sa.select(sale.c.id, sale.c.moysklad_id, sale.c.customer_id, sale.c.retail_store_id)
            .where(sale.c.account_id == account_id, sa.or_(*matches))
            .order_by(sale.c.id)
            .limit(1)
        )
    ).one_or_none()


async def vouchers_due_for_expiry(
    session: AsyncSession, account_id: uuid.UUID | None, now: datetime, limit: int
) -> list[Any]:
    query = (
        sa.select(voucher.c.account_id, voucher.c.id)
        .where(voucher.c.status == VoucherStatus.issued.value, voucher.c.expires_at <= now)
        .order_by(voucher.c.account_id, voucher.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if account_id is not None:
        query = query.where(voucher.c.account_id == account_id)
    return list(await session.execute(query))
