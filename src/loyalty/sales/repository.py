"""Sale documents and their lines."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.customers.repository import (
    holds_vouchers_column,
    reference_params,
    reference_select,
)
from loyalty.db import driver
from loyalty.ledger.schemas import Balance, DocumentWrite
from loyalty.models import customer, customer_balance, sale, sale_line
from loyalty.tiers.repository import window_total_column


@dataclass(frozen=True)
class SaleFinish:
    """What a sale with a customer records: who bought, what was spent and earned."""

    customer_id: uuid.UUID
    spent_points: int
    earned_points: int


@dataclass(frozen=True)
class QuoteReads:
    customer_id: uuid.UUID
    moysklad_id: str | None
    name: str | None
    status: str
    balance: Balance | None  # as stored: due maturities not applied
    holds_vouchers: bool
    window_total_minor: int = 0  # net purchases in the tier window (read only with tiers)


@functools.cache
def _quote_reads_select(by_our_id: bool, with_tier_window: bool) -> sa.Select[Any]:
    columns: list[Any] = [
        customer.c.id,
        customer.c.moysklad_id,
        customer.c.name,
        customer.c.status,
        customer_balance.c.available_points,
        customer_balance.c.pending_points,
        customer_balance.c.debt_points,
        customer_balance.c.next_maturity_at,
        holds_vouchers_column(),
    ]
    if with_tier_window:
        since = sa.bindparam("tier_window_since", type_=sa.Date)
        columns.append(
            window_total_column(customer.c.account_id, customer.c.id, since).label("window_total")
        )
    return (
        reference_select(by_our_id)
        .with_only_columns(*columns)
        .outerjoin(
            customer_balance,
            sa.and_(
                customer_balance.c.account_id == customer.c.account_id,
                customer_balance.c.customer_id == customer.c.id,
            ),
        )
    )


@functools.cache
def _quote_reads_statement(by_our_id: bool, with_tier_window: bool) -> driver.Statement:
    return driver.compiled(_quote_reads_select(by_our_id, with_tier_window))


async def quote_reads(
    session: AsyncSession,
    account_id: uuid.UUID,
    reference: str,
    *,
    tier_window_since: date | None = None,
) -> QuoteReads | None:
    """A recalc's one round trip: the customer behind the till's reference, their stored
    balance, and whether they hold an issued discount voucher (most customers hold none, and
    then the voucher query is skipped)."""
    by_our_id, params = reference_params(account_id, reference)
    if tier_window_since is not None:
        params["tier_window_since"] = tier_window_since
    query = _quote_reads_statement(by_our_id, tier_window_since is not None)
    row = await driver.fetch_one(session, query, params)
    if row is None:
        return None
    balance = (
        None
        if row.available_points is None
        else Balance(
            row.available_points, row.pending_points, row.debt_points, row.next_maturity_at
        )
    )
    return QuoteReads(
        row.id,
        row.moysklad_id,
        row.name,
        row.status,
        balance,
        bool(row.holds_vouchers),
        int(row.window_total) if tier_window_since is not None else 0,
    )


# Built once, bound per call, sent on the driver (`loyalty.db.driver`): the commit's own
# statements.
CLAIM_COLUMNS = (
    "account_id",
    "idempotency_key",
    "request_hash",
    "moysklad_id",
    "name",
    "moment",
    "retail_store_id",
    "total_minor",
    "paid_minor",
    "cash_sum_minor",
    "no_cash_sum_minor",
    "requested_earn_points",
)
_CLAIM_INSERT = (
    pg_insert(sale)
    .values({name: sa.bindparam(name, type_=sale.c[name].type) for name in CLAIM_COLUMNS})
    .on_conflict_do_nothing(index_elements=["account_id", "idempotency_key"])
    .returning(sale.c.id)
)
_CLAIM = driver.compiled(_CLAIM_INSERT)
_BY_KEY = sa.select(sale).where(
    sale.c.account_id == sa.bindparam("account_id"),
    sale.c.idempotency_key == sa.bindparam("key"),
)


async def claim(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert the sale under its idempotency key; None if that key is already taken.

    A concurrent copy blocks on the unique index until the first commits or rolls back."""
    row = await driver.fetch_one(session, _CLAIM, values)
    return None if row is None else int(row.id)


@functools.cache
def _claim_and_find_statement(by_our_id: bool) -> driver.Statement:
    claimed = _CLAIM_INSERT.cte("claimed")
    # The claim first (a one-time filter on it): a replay, or a copy waiting on the original's
    # uncommitted claim, holds no lock on the customer; a new sale locks them after its claim,
    # as when these were two statements.
    found = (
        reference_select(by_our_id, "share").where(sa.exists(sa.select(claimed.c.id))).cte("found")
    )
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    return driver.compiled(
        sa.select(
            sa.select(claimed.c.id).scalar_subquery().label("claimed_sale_id"), *found.c
        ).select_from(one.outerjoin(found, sa.true()))
    )


async def claim_and_find_customer(
    session: AsyncSession, values: dict[str, Any], reference: str
) -> tuple[int | None, Any | None]:
    """`claim`, and the customer behind the till's `reference` share-locked as
    `customers.repository.find_by_reference(for_share=True)` would, in one round trip: (the
    sale's id or None when the key is taken, the customer's row or None).

    Both come before the customer's balance lock, so the section under that lock is no
    longer. On a replay no customer is read (and none locked): the row is None."""
    by_our_id, params = reference_params(values["account_id"], reference)
    row = await driver.fetch_one(session, _claim_and_find_statement(by_our_id), values | params)
    assert row is not None, "the statement always returns one row"
    sale_id = None if row.claimed_sale_id is None else int(row.claimed_sale_id)
    return sale_id, row if row.id is not None else None


async def get_by_key(session: AsyncSession, account_id: uuid.UUID, key: str) -> Any | None:
    return (await session.execute(_BY_KEY, {"account_id": account_id, "key": key})).one_or_none()


# A receipt's lines as one array per column: one statement and one set of parameters, however
# many positions (an executemany binds and sends every line separately). Each array travels as
# the text of its literal (`driver.array_literal`).
_INSERT_LINES_SQL = """
INSERT INTO sale_line (account_id, sale_id, line_no, assortment_id, quantity, price_minor,
                       discounted_price_minor, total_minor, paid_minor, spent_points, earned_points)
SELECT CAST(:account_id AS uuid), CAST(:sale_id AS bigint), line.*
  FROM unnest(CAST(CAST(:line_nos AS text) AS integer[]),
              CAST(CAST(:assortment_ids AS text) AS text[]),
              CAST(CAST(:quantities AS text) AS numeric[]),
              CAST(CAST(:prices_minor AS text) AS bigint[]),
              CAST(CAST(:discounted_prices_minor AS text) AS bigint[]),
              CAST(CAST(:totals_minor AS text) AS bigint[]),
              CAST(CAST(:paid_minor AS text) AS bigint[]),
              CAST(CAST(:spent_points AS text) AS bigint[]),
              CAST(CAST(:earned_points AS text) AS bigint[])) AS line
"""
_INSERT_LINES = driver.compiled(sa.text(_INSERT_LINES_SQL))
# A sale with a customer also records who bought and what it spent and earned, in the same
# statement (a data-modifying WITH runs whether or not the INSERT reads it).
_FINISHED_SET = """
    UPDATE sale
       SET customer_id = :sale_customer_id, spent_points = :spent_total_points,
           earned_points = :earned_total_points"""
_FINISHED_WHERE = """
     WHERE account_id = :account_id AND id = :sale_id
)
"""
_FINISH_AND_INSERT_LINES = driver.compiled(
    sa.text("WITH finished AS (" + _FINISHED_SET + _FINISHED_WHERE + _INSERT_LINES_SQL)
)


async def record_lines(
    session: AsyncSession,
    account_id: uuid.UUID,
    sale_id: int,
    lines: dict[str, list[Any]],
    finish: SaleFinish | None,
) -> None:
    """The receipt's lines, one list per column named as `_INSERT_LINES_SQL`'s arrays, and, with
    a customer, the sale's outcome: one round trip."""
    params = _lines_params(account_id, sale_id, lines)
    if finish is None:
        await driver.execute(session, _INSERT_LINES, params)
        return
    await driver.execute(session, _FINISH_AND_INSERT_LINES, params | _finish_params(finish))


# The same write carried in the ledger's posting (`ledger.schemas.DocumentWrite`): the sale's
# outcome also names the posting's transaction, and the customer's lock is held one round trip
# less.
_LINES_WITH_POSTING = (
    "lines AS ("
    + _INSERT_LINES_SQL
    + "), finished AS ("
    + _FINISHED_SET
    + ",\n           ledger_transaction_id = (SELECT id FROM claimed)"
    + _FINISHED_WHERE
)


def lines_with_posting(
    account_id: uuid.UUID, sale_id: int, lines: dict[str, list[Any]], finish: SaleFinish
) -> DocumentWrite:
    """What `record_lines` writes for a sale with a customer, to ride in the sale's posting."""
    return DocumentWrite(
        _LINES_WITH_POSTING, _lines_params(account_id, sale_id, lines) | _finish_params(finish)
    )


def _finish_params(finish: SaleFinish) -> dict[str, Any]:
    return {
        "sale_customer_id": finish.customer_id,
        "spent_total_points": finish.spent_points,
        "earned_total_points": finish.earned_points,
    }


def _lines_params(
    account_id: uuid.UUID, sale_id: int, lines: dict[str, list[Any]]
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "sale_id": sale_id,
        **{column: driver.array_literal(values) for column, values in lines.items()},
    }


async def lock_by_moysklad_id(
    session: AsyncSession, account_id: uuid.UUID, moysklad_id: str
) -> Any | None:
    """The sale a return points at, locked so concurrent returns of it are serialised."""
    return (
        await session.execute(
            sa.select(sale)
            .where(sale.c.account_id == account_id, sale.c.idempotency_key == f"ms:{moysklad_id}")
            .with_for_update()
        )
    ).one_or_none()


async def lines_of(session: AsyncSession, account_id: uuid.UUID, sale_id: int) -> list[Any]:
    return list(
        await session.execute(
            sa.select(sale_line)
            .where(sale_line.c.account_id == account_id, sale_line.c.sale_id == sale_id)
            .order_by(sale_line.c.line_no)
        )
    )
