"""Ledger SQL. Only `ledger.service` calls these; nothing else writes ledger rows."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.db import driver
from loyalty.ledger.schemas import (
    Balance,
    DocumentWrite,
    Entry,
    LedgerLine,
    Lot,
    LotDraw,
    LotTerms,
    TransactionHeader,
)
from loyalty.models import (
    customer,
    customer_balance,
    ledger_entry,
    ledger_transaction,
    points_lot,
    points_lot_movement,
)
from loyalty.observability.metrics import note_ledger_transaction
from loyalty.webhooks.repository import has_endpoints_clause

_BALANCE_COLUMNS = (
    customer_balance.c.available_points,
    customer_balance.c.pending_points,
    customer_balance.c.debt_points,
    customer_balance.c.next_maturity_at,
)


def _balance(row: Any) -> Balance:
    return Balance(
        available_points=row.available_points,
        pending_points=row.pending_points,
        debt_points=row.debt_points,
        next_maturity_at=row.next_maturity_at,
    )


async def insert_balance(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> None:
    await session.execute(
        pg_insert(customer_balance)
        .values(account_id=account_id, customer_id=customer_id)
        .on_conflict_do_nothing()
    )


# The hot path's statements are built once (bound per call): building a statement and walking
# it for its cache key cost more service CPU than the round trip itself.
_CUSTOMER_BALANCE = sa.and_(
    customer_balance.c.account_id == sa.bindparam("account_id"),
    customer_balance.c.customer_id == sa.bindparam("customer_id"),
)
_GET_BALANCE = sa.select(*_BALANCE_COLUMNS).where(_CUSTOMER_BALANCE)
_LOCK_BALANCE = driver.compiled(
    sa.select(
        *_BALANCE_COLUMNS,
        has_endpoints_clause(customer_balance.c.account_id).label("has_webhooks"),
    )
    .where(_CUSTOMER_BALANCE)
    .with_for_update(of=customer_balance)
)


async def get_balance(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> Balance | None:
    params = {"account_id": account_id, "customer_id": customer_id}
    row = (await session.execute(_GET_BALANCE, params)).one_or_none()
    return None if row is None else _balance(row)


async def lock_balance(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> tuple[Balance, bool] | None:
    """The customer's write lock: every ledger or lot change for a customer happens under it.
    The same round trip tells whether the account has webhook endpoints (events to write)."""
    params = {"account_id": account_id, "customer_id": customer_id}
    row = await driver.fetch_one(session, _LOCK_BALANCE, params)
    return None if row is None else (_balance(row), bool(row.has_webhooks))


async def customer_moysklad_id(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> str | None:
    found: str | None = await session.scalar(
        sa.select(customer.c.moysklad_id).where(
            customer.c.account_id == account_id, customer.c.id == customer_id
        )
    )
    return found


# An UPDATE's WHERE parameters may not be named after columns.
_SET_NEXT_MATURITY = (
    sa.update(customer_balance)
    .where(
        customer_balance.c.account_id == sa.bindparam("where_account_id"),
        customer_balance.c.customer_id == sa.bindparam("where_customer_id"),
    )
    .values(next_maturity_at=sa.bindparam("moment"))
)


async def set_next_maturity(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    next_maturity_at: datetime | None,
) -> None:
    await session.execute(
        _SET_NEXT_MATURITY,
        {
            "where_account_id": account_id,
            "where_customer_id": customer_id,
            "moment": next_maturity_at,
        },
    )


async def live_lots(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[Lot]:
    rows = await session.execute(
        sa.select(
            points_lot.c.id,
            points_lot.c.state,
            points_lot.c.remaining_points,
            points_lot.c.activates_at,
            points_lot.c.expires_at,
        ).where(
            points_lot.c.account_id == account_id,
            points_lot.c.customer_id == customer_id,
            points_lot.c.state != "closed",
        )
    )
    return [
        Lot(row.id, row.state, row.remaining_points, row.activates_at, row.expires_at)
        for row in rows
    ]


# Spend order as in rules.spend_order_key (soonest-expiring first, non-expiring last, then
# oldest), read through ix_points_lot_account_id_customer_id_spend_order.
_LOTS_TO_SPEND = driver.compiled(
    sa.text(
        """
    SELECT id, state, remaining_points, activates_at, expires_at
      FROM points_lot
     WHERE account_id = :account_id AND customer_id = :customer_id AND state = 'active'
       AND (expires_at IS NULL OR expires_at > :now) AND remaining_points > 0
     ORDER BY expires_at IS NULL, COALESCE(expires_at, activates_at), activates_at, id
     LIMIT :limit
    """
    )
)
LOTS_PER_READ = 16


async def lots_to_spend(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, points: int, now: datetime
) -> list[Lot]:
    """The first lots in spend order that together cover `points` (all of them if they
    cannot): usually one short index read, whatever the number of lots the customer holds."""
    limit = LOTS_PER_READ
    while True:
        rows = await driver.fetch_all(
            session,
            _LOTS_TO_SPEND,
            {"account_id": account_id, "customer_id": customer_id, "now": now, "limit": limit},
        )
        lots = [
            Lot(row.id, row.state, row.remaining_points, row.activates_at, row.expires_at)
            for row in rows
        ]
        if len(lots) < limit or sum(lot.remaining_points for lot in lots) >= points:
            return lots
        limit *= 8


# Due maturities and the next one, each through an index (the pending lots', or the head of
# the spend order for active lots): a customer's thousands of settled lots are never read.
_DUE_LOTS = sa.text(
    """
    SELECT id, state, remaining_points, activates_at, expires_at
      FROM points_lot
     WHERE account_id = :account_id AND customer_id = :customer_id AND state = 'pending'
       AND (activates_at <= :now OR expires_at <= :now)
    UNION ALL
    SELECT id, state, remaining_points, activates_at, expires_at
      FROM points_lot
     WHERE account_id = :account_id AND customer_id = :customer_id AND state = 'active'
       AND (expires_at IS NULL) IS FALSE AND COALESCE(expires_at, activates_at) <= :now
    """
)
_NEXT_MATURITY = sa.text(
    """
    SELECT LEAST(
        (SELECT min(activates_at) FROM points_lot
          WHERE account_id = :account_id AND customer_id = :customer_id AND state = 'pending'
            AND remaining_points > 0 AND activates_at > :now),
        (SELECT min(expires_at) FROM points_lot
          WHERE account_id = :account_id AND customer_id = :customer_id AND state = 'pending'
            AND remaining_points > 0 AND expires_at > :now),
        (SELECT expires_at FROM points_lot
          WHERE account_id = :account_id AND customer_id = :customer_id AND state = 'active'
            AND remaining_points > 0
            AND (expires_at IS NULL) IS FALSE AND COALESCE(expires_at, activates_at) > :now
          ORDER BY (expires_at IS NULL), COALESCE(expires_at, activates_at)
          LIMIT 1)
    )
    """
)


async def due_lots(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, now: datetime
) -> list[Lot]:
    """Live lots with a maturity at or before `now`: pending ones due to activate or expire,
    active ones due to expire."""
    rows = await session.execute(
        _DUE_LOTS, {"account_id": account_id, "customer_id": customer_id, "now": now}
    )
    return [
        Lot(row.id, row.state, row.remaining_points, row.activates_at, row.expires_at)
        for row in rows
    ]


async def next_maturity(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, now: datetime
) -> datetime | None:
    """The earliest activation or expiry after `now` among the customer's live lots (as
    `rules.next_maturity`)."""
    found: datetime | None = (
        await session.execute(
            _NEXT_MATURITY, {"account_id": account_id, "customer_id": customer_id, "now": now}
        )
    ).scalar_one()
    return found


_CLAIM_TRANSACTION = (
    pg_insert(ledger_transaction)
    .on_conflict_do_nothing(index_elements=["account_id", "idempotency_key"])
    .returning(ledger_transaction.c.id)
)


def _header_params(header: TransactionHeader) -> dict[str, Any]:
    return {
        "account_id": header.account_id,
        "kind": header.kind.value,
        "idempotency_key": header.idempotency_key,
        "customer_id": header.customer_id,
        "document_kind": header.document_kind,
        "document_id": header.document_id,
        "reverses_transaction_id": header.reverses_transaction_id,
        "reason": header.reason,
        "actor": header.actor,
        "effective_at": header.effective_at,
    }


async def claim_transaction(session: AsyncSession, header: TransactionHeader) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING: a concurrent duplicate waits on the unique key, then
    sees the winner's row and gets None."""
    result = await session.execute(_CLAIM_TRANSACTION, _header_params(header))
    claimed: int | None = result.scalar_one_or_none()
    if claimed is not None:
        note_ledger_transaction(session, header.kind.value)
    return claimed


# A whole posting in one round trip: the header (claimed under its key), the draws from the
# customer's lots and their movements, the new lot, and the entries in the given order
# (credits first). A key already taken writes nothing. Draws and the lot may be empty.
# The draws come through `ledger_lot_draws` (migration 0011) so that PostgreSQL caches one
# generic plan instead of planning every posting anew; a movement is written only for a lot
# the UPDATE drew from, and the caller checks that every draw found its lot. The arrays
# travel as the text of their literals (`driver.array_literal`).
_POSTING_WITH = """
    WITH claimed AS (
        INSERT INTO ledger_transaction (account_id, kind, idempotency_key, customer_id,
                                        document_kind, document_id, reverses_transaction_id,
                                        reason, actor, effective_at)
        VALUES (:account_id, :kind, :idempotency_key, :customer_id, :document_kind,
                :document_id, :reverses_transaction_id, :reason, :actor, :effective_at)
        ON CONFLICT (account_id, idempotency_key) DO NOTHING
        RETURNING id
    ), drawn AS (
        UPDATE points_lot
           SET remaining_points = points_lot.remaining_points - draw.take_points,
               state = CASE WHEN points_lot.remaining_points - draw.take_points = 0
                            THEN 'closed' ELSE points_lot.state END
          FROM claimed,
               ledger_lot_draws(CAST(CAST(:draw_lot_ids AS text) AS bigint[]),
                                CAST(CAST(:draw_points AS text) AS bigint[])) AS draw
         WHERE points_lot.account_id = :account_id AND points_lot.id = draw.lot_id
        RETURNING claimed.id AS transaction_id, points_lot.id AS lot_id, draw.take_points
    ), movements AS (
        INSERT INTO points_lot_movement (account_id, transaction_id, lot_id, amount_points)
        SELECT :account_id, drawn.transaction_id, drawn.lot_id, -drawn.take_points
          FROM drawn
    ), lot AS (
        INSERT INTO points_lot (account_id, customer_id, transaction_id, amount_points,
                                remaining_points, state, activates_at, expires_at)
        SELECT :account_id, :customer_id, claimed.id, :lot_points, :lot_points, :lot_state,
               :activates_at, :expires_at
          FROM claimed
         WHERE CAST(:lot_points AS bigint) > 0
        RETURNING id
    ), entries AS (
        INSERT INTO ledger_entry (account_id, transaction_id, bucket, customer_id, amount_points)
        SELECT :account_id, claimed.id, entry.bucket, entry.customer_id, entry.amount_points
          FROM claimed,
               unnest(CAST(CAST(:buckets AS text) AS text[]),
                      CAST(CAST(:entry_customer_ids AS text) AS uuid[]),
                      CAST(CAST(:amounts AS text) AS bigint[]))
                   WITH ORDINALITY AS entry(bucket, customer_id, amount_points, position)
         ORDER BY entry.position
    )
"""
_POSTING_RESULT = """
    SELECT claimed.id AS transaction_id, (SELECT id FROM lot) AS lot_id,
           (SELECT count(*) FROM drawn) AS lots_drawn
      FROM claimed
"""
_POST_TRANSACTION = driver.compiled(sa.text(_POSTING_WITH + _POSTING_RESULT))


@functools.cache
def _posting_with_document(document_sql: str) -> driver.Statement:
    return driver.compiled(sa.text(_POSTING_WITH + ",\n" + document_sql + _POSTING_RESULT))


@dataclass(frozen=True)
class PostedTransaction:
    transaction_id: int
    lot_id: int | None
    lots_drawn: int


async def post_transaction(
    session: AsyncSession,
    header: TransactionHeader,
    entries: list[Entry],
    *,
    draws: list[LotDraw],
    lot_points: int,
    lot_state: str,
    terms: LotTerms | None,
    document: DocumentWrite | None = None,
) -> PostedTransaction | None:
    """None when the key was already taken. `document`'s write goes in the same statement."""
    params: dict[str, Any] = {
        **_header_params(header),
        "draw_lot_ids": driver.array_literal(draw.lot_id for draw in draws),
        "draw_points": driver.array_literal(draw.points for draw in draws),
        "lot_points": lot_points,
        "lot_state": lot_state,
        "activates_at": terms.activates_at if terms is not None else None,
        "expires_at": terms.expires_at if terms is not None else None,
        "buckets": driver.array_literal(entry.bucket.value for entry in entries),
        "entry_customer_ids": driver.array_literal(entry.customer_id for entry in entries),
        "amounts": driver.array_literal(entry.amount_points for entry in entries),
    }
    statement = _POST_TRANSACTION
    if document is not None:
        shared = params.keys() & document.params.keys()
        if shared - {"account_id"} or document.params.get("account_id", header.account_id) != (
            header.account_id
        ):
            raise ValueError(f"a document's write shares the posting's parameters {shared}")
        statement = _posting_with_document(document.sql)
        params |= document.params
    row = await driver.fetch_one(session, statement, params)
    if row is None:
        return None
    note_ledger_transaction(session, header.kind.value)
    return PostedTransaction(int(row.transaction_id), row.lot_id, int(row.lots_drawn))


async def find_transaction(session: AsyncSession, account_id: uuid.UUID, key: str) -> Any | None:
    return (
        await session.execute(
            sa.select(ledger_transaction).where(
                ledger_transaction.c.account_id == account_id,
                ledger_transaction.c.idempotency_key == key,
            )
        )
    ).one_or_none()


async def transaction_entries(
    session: AsyncSession, account_id: uuid.UUID, transaction_id: int
) -> list[Any]:
    rows = await session.execute(
        sa.select(
            ledger_entry.c.bucket, ledger_entry.c.amount_points, ledger_entry.c.customer_id
        ).where(
            ledger_entry.c.account_id == account_id, ledger_entry.c.transaction_id == transaction_id
        )
    )
    return list(rows)


async def insert_entries(
    session: AsyncSession, account_id: uuid.UUID, transaction_id: int, entries: list[Entry]
) -> None:
    await session.execute(
        sa.insert(ledger_entry),
        [
            {
                "account_id": account_id,
                "transaction_id": transaction_id,
                "bucket": entry.bucket.value,
                "customer_id": entry.customer_id,
                "amount_points": entry.amount_points,
            }
            for entry in entries
        ],
    )


# One statement for any number of draws: the lot ids and amounts travel as two arrays.
_APPLY_DRAWS = sa.text(
    """
    UPDATE points_lot
       SET remaining_points = points_lot.remaining_points - draw.take,
           state = CASE WHEN points_lot.remaining_points - draw.take = 0
                        THEN 'closed' ELSE points_lot.state END
      FROM unnest(CAST(:lot_ids AS bigint[]), CAST(:takes AS bigint[])) AS draw(lot_id, take)
     WHERE points_lot.account_id = :account_id AND points_lot.id = draw.lot_id
    """
)


async def apply_draws(
    session: AsyncSession, account_id: uuid.UUID, transaction_id: int, draws: list[LotDraw]
) -> None:
    if not draws:
        return
    await session.execute(
        _APPLY_DRAWS,
        {
            "account_id": account_id,
            "lot_ids": [draw.lot_id for draw in draws],
            "takes": [draw.points for draw in draws],
        },
    )
    await insert_movements(
        session, account_id, transaction_id, [(draw.lot_id, -draw.points) for draw in draws]
    )


async def insert_movements(
    session: AsyncSession,
    account_id: uuid.UUID,
    transaction_id: int,
    movements: list[tuple[int, int]],
) -> None:
    await session.execute(
        sa.insert(points_lot_movement),
        [
            {
                "account_id": account_id,
                "transaction_id": transaction_id,
                "lot_id": lot_id,
                "amount_points": amount,
            }
            for lot_id, amount in movements
        ],
    )


_INSERT_LOT = sa.insert(points_lot).returning(points_lot.c.id)


async def insert_lot(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    transaction_id: int,
    points: int,
    state: str,
    terms: LotTerms,
) -> int:
    result = await session.execute(
        _INSERT_LOT,
        {
            "account_id": account_id,
            "customer_id": customer_id,
            "transaction_id": transaction_id,
            "amount_points": points,
            "remaining_points": points,
            "state": state,
            "activates_at": terms.activates_at,
            "expires_at": terms.expires_at,
        },
    )
    return int(result.scalar_one())


async def activate_lot(session: AsyncSession, account_id: uuid.UUID, lot_id: int) -> None:
    await session.execute(
        sa.update(points_lot)
        .where(
            points_lot.c.account_id == account_id,
            points_lot.c.id == lot_id,
            points_lot.c.state == "pending",
        )
        .values(state="active")
    )


_LOT_COLUMNS = (
    points_lot.c.id,
    points_lot.c.state,
    points_lot.c.remaining_points,
    points_lot.c.activates_at,
    points_lot.c.expires_at,
)


def _lot(row: Any) -> Lot:
    return Lot(row.id, row.state, row.remaining_points, row.activates_at, row.expires_at)


async def lots_created_by(
    session: AsyncSession, account_id: uuid.UUID, transaction_id: int
) -> list[Lot]:
    """The lots a transaction created, in creation order (closed ones included)."""
    rows = await session.execute(
        sa.select(*_LOT_COLUMNS)
        .where(points_lot.c.account_id == account_id, points_lot.c.transaction_id == transaction_id)
        .order_by(points_lot.c.id)
    )
    return [_lot(row) for row in rows]


async def expired_from_lots_of(
    session: AsyncSession, account_id: uuid.UUID, transaction_id: int
) -> int:
    """Points that expired from the lots a transaction created."""
    result = await session.execute(
        sa.select(sa.func.coalesce(-sa.func.sum(points_lot_movement.c.amount_points), 0))
        .select_from(
            points_lot_movement.join(
                points_lot,
                sa.and_(
                    points_lot.c.account_id == points_lot_movement.c.account_id,
                    points_lot.c.id == points_lot_movement.c.lot_id,
                ),
            ).join(
                ledger_transaction,
                sa.and_(
                    ledger_transaction.c.account_id == points_lot_movement.c.account_id,
                    ledger_transaction.c.id == points_lot_movement.c.transaction_id,
                ),
            )
        )
        .where(
            points_lot.c.account_id == account_id,
            points_lot.c.transaction_id == transaction_id,
            ledger_transaction.c.kind == "expiry",
        )
    )
    return int(result.scalar_one())


async def drawn_lot_expiries(
    session: AsyncSession, account_id: uuid.UUID, transaction_id: int
) -> list[datetime | None]:
    """Expiry dates of the lots a transaction drew from (to give refunded points the same life)."""
    rows = await session.execute(
        sa.select(points_lot.c.expires_at)
        .select_from(
            points_lot_movement.join(
                points_lot,
                sa.and_(
                    points_lot.c.account_id == points_lot_movement.c.account_id,
                    points_lot.c.id == points_lot_movement.c.lot_id,
                ),
            )
        )
        .where(
            points_lot_movement.c.account_id == account_id,
            points_lot_movement.c.transaction_id == transaction_id,
            points_lot_movement.c.amount_points < 0,
        )
    )
    return [row.expires_at for row in rows]


async def history(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    limit: int,
    before_entry_id: int | None = None,
) -> list[LedgerLine]:
    """Newest first; `before_entry_id` continues a page (keyset: stable under new postings)."""
    conditions = [
        ledger_entry.c.account_id == account_id,
        ledger_entry.c.customer_id == customer_id,
    ]
    if before_entry_id is not None:
        conditions.append(ledger_entry.c.id < before_entry_id)
    rows = await session.execute(
        sa.select(
            ledger_entry.c.transaction_id,
            ledger_transaction.c.kind,
            ledger_transaction.c.created_at,
            ledger_transaction.c.effective_at,
            ledger_entry.c.bucket,
            ledger_entry.c.amount_points,
            ledger_entry.c.balance_after_points,
            ledger_transaction.c.reason,
            ledger_transaction.c.actor,
            ledger_entry.c.id,
        )
        .select_from(
            ledger_entry.join(
                ledger_transaction,
                sa.and_(
                    ledger_transaction.c.account_id == ledger_entry.c.account_id,
                    ledger_transaction.c.id == ledger_entry.c.transaction_id,
                ),
            )
        )
        .where(*conditions)
        .order_by(ledger_entry.c.id.desc())
        .limit(limit)
    )
    return [
        LedgerLine(
            transaction_id=row.transaction_id,
            kind=row.kind,
            created_at=row.created_at,
            effective_at=row.effective_at,
            bucket=row.bucket,
            amount_points=row.amount_points,
            balance_after_points=row.balance_after_points,
            reason=row.reason,
            actor=row.actor,
            entry_id=row.id,
        )
        for row in rows
    ]
