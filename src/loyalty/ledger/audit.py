"""`loyalty ledger verify`: re-derive every invariant from the append-only rows.

Read-only. Run after chaos tests, after restores and nightly in production.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Violation:
    check: str
    account_id: str | None
    detail: dict[str, Any]


# The audit reads whole tables, so the till's request budget does not bind it. Nested loops
# are off because every check compares two whole sets: on rows written since the last
# ANALYZE the planner expects a handful and picks a nested loop, which turns quadratic
# (thousands of vouchers against their movements outlived a 1.5 s budget). Hash and merge
# joins stay linear whatever the statistics say.
AUDIT_SETTINGS = (
    "SET LOCAL statement_timeout = '1h'",
    "SET LOCAL enable_nestloop = off",
)


async def _audit_settings(session: AsyncSession) -> None:
    for statement in AUDIT_SETTINGS:
        await session.execute(sa.text(statement))


# Each check returns offending rows; an empty result means the invariant holds.
CHECKS: dict[str, str] = {
    "balance_equals_entries": """
        SELECT b.account_id, b.customer_id, b.available_points, b.pending_points, b.debt_points,
               coalesce(e.available, 0) AS entries_available, coalesce(e.pending,
                   0) AS entries_pending,
               -coalesce(e.debt, 0) AS entries_debt
          FROM customer_balance b
          LEFT JOIN (
                SELECT account_id, customer_id,
                       sum(amount_points) FILTER (WHERE bucket = 'available') AS available,
                       sum(amount_points) FILTER (WHERE bucket = 'pending') AS pending,
                       sum(amount_points) FILTER (WHERE bucket = 'debt') AS debt
                  FROM ledger_entry
                 WHERE customer_id IS NOT NULL AND (:account_id IS NULL OR account_id = :account_id)
                 GROUP BY account_id, customer_id
          ) e USING (account_id, customer_id)
         WHERE (:account_id IS NULL OR b.account_id = :account_id)
           AND (b.available_points <> coalesce(e.available, 0)
                OR b.pending_points <> coalesce(e.pending, 0)
                OR b.debt_points <> -coalesce(e.debt, 0))
    """,
    "no_negative_balance": """
        SELECT account_id, customer_id, available_points, pending_points, debt_points
          FROM customer_balance
         WHERE (:account_id IS NULL OR account_id = :account_id)
           AND (available_points < 0 OR pending_points < 0 OR debt_points < 0)
    """,
    "transaction_sums_to_zero": """
        SELECT t.account_id, t.id AS transaction_id, t.kind, coalesce(sum(e.amount_points),
            0) AS total,
               count(e.id) AS entries
          FROM ledger_transaction t
          LEFT JOIN ledger_entry e ON e.account_id = t.account_id AND e.transaction_id = t.id
         WHERE (:account_id IS NULL OR t.account_id = :account_id)
         GROUP BY t.account_id, t.id, t.kind
        HAVING coalesce(sum(e.amount_points), 0) <> 0 OR (count(e.id) > 0 AND count(e.id) < 2)
    """,
    "running_balance_chain": """
        SELECT account_id, customer_id, id AS entry_id, account_version, balance_after_points,
            running
          FROM (
                SELECT account_id, customer_id, id, account_version, balance_after_points,
                       sum(amount_points) OVER (PARTITION BY account_id, customer_id, bucket
                                                ORDER BY account_version) AS running,
                       row_number() OVER (PARTITION BY account_id,
                           customer_id ORDER BY account_version)
                           AS position
                  FROM ledger_entry
                 WHERE customer_id IS NOT NULL AND (:account_id IS NULL OR account_id = :account_id)
          ) chain
         WHERE balance_after_points IS DISTINCT FROM running
             OR account_version IS DISTINCT FROM position
    """,
    "version_counts_entries": """
        SELECT b.account_id, b.customer_id, b.version, count(e.id) AS entries
          FROM customer_balance b
          LEFT JOIN ledger_entry e ON e.account_id = b.account_id AND e.customer_id = b.customer_id
         WHERE (:account_id IS NULL OR b.account_id = :account_id)
         GROUP BY b.account_id, b.customer_id, b.version
        HAVING b.version <> count(e.id)
    """,
    "lot_remaining_matches_movements": """
        SELECT l.account_id, l.id AS lot_id, l.amount_points, l.remaining_points,
               l.amount_points + coalesce(sum(m.amount_points), 0) AS derived
          FROM points_lot l
          LEFT JOIN points_lot_movement m ON m.account_id = l.account_id AND m.lot_id = l.id
         WHERE (:account_id IS NULL OR l.account_id = :account_id)
         GROUP BY l.account_id, l.id, l.amount_points, l.remaining_points
        HAVING l.remaining_points <> l.amount_points + coalesce(sum(m.amount_points), 0)
    """,
    "lots_match_balance": """
        SELECT b.account_id, b.customer_id, b.available_points, b.pending_points,
               coalesce(l.active, 0) AS lots_active, coalesce(l.pending, 0) AS lots_pending
          FROM customer_balance b
          LEFT JOIN (
                SELECT account_id, customer_id,
                       sum(remaining_points) FILTER (WHERE state = 'active') AS active,
                       sum(remaining_points) FILTER (WHERE state = 'pending') AS pending
                  FROM points_lot
                 WHERE state <> 'closed' AND (:account_id IS NULL OR account_id = :account_id)
                 GROUP BY account_id, customer_id
          ) l USING (account_id, customer_id)
         WHERE (:account_id IS NULL OR b.account_id = :account_id)
           AND (b.available_points <> coalesce(l.active,
               0) OR b.pending_points <> coalesce(l.pending, 0))
    """,
    "document_applied_once": """
        SELECT account_id, document_kind, document_id, count(*) AS transactions
          FROM ledger_transaction
         WHERE document_kind IS NOT NULL AND (:account_id IS NULL OR account_id = :account_id)
         GROUP BY account_id, document_kind, document_id
        HAVING count(*) > 1
    """,
    "returns_within_sale": """
        SELECT s.account_id, s.id AS sale_id, s.spent_points, s.earned_points,
               sum(r.refunded_spent_points) AS refunded, sum(r.reclaimed_earned_points) AS reclaimed
          FROM sale s
          JOIN sales_return r ON r.account_id = s.account_id AND r.sale_id = s.id
         WHERE (:account_id IS NULL OR s.account_id = :account_id)
         GROUP BY s.account_id, s.id, s.spent_points, s.earned_points
        HAVING sum(r.refunded_spent_points) > s.spent_points
            OR sum(r.reclaimed_earned_points) > s.earned_points
    """,
    "sale_points_match_ledger": """
        SELECT s.account_id, s.id AS sale_id, s.spent_points, s.earned_points,
               coalesce(sum(e.amount_points) FILTER (WHERE e.bucket = 'redeemed'),
                   0) AS ledger_spent,
               -coalesce(sum(e.amount_points) FILTER (WHERE e.bucket = 'issued'),
                   0) AS ledger_earned
          FROM sale s
          LEFT JOIN ledger_entry e ON e.account_id = s.account_id
              AND e.transaction_id = s.ledger_transaction_id
         WHERE (:account_id IS NULL OR s.account_id = :account_id)
         GROUP BY s.account_id, s.id, s.spent_points, s.earned_points
        HAVING s.spent_points <> coalesce(sum(e.amount_points) FILTER (WHERE e.bucket =
            'redeemed'), 0)
            OR s.earned_points <> -coalesce(sum(e.amount_points) FILTER (WHERE e.bucket =
                'issued'), 0)
    """,
    "return_points_match_ledger": """
        SELECT r.account_id, r.id AS return_id, r.refunded_spent_points,
               r.reclaimed_earned_points - r.forgiven_expired_points AS collected,
               -coalesce(sum(e.amount_points) FILTER (WHERE e.bucket = 'redeemed'), 0)
                   AS ledger_refunded,
               coalesce(sum(e.amount_points) FILTER (WHERE e.bucket = 'issued'), 0)
                   AS ledger_collected
          FROM sales_return r
          LEFT JOIN ledger_entry e
            ON e.account_id = r.account_id AND e.transaction_id = r.ledger_transaction_id
         WHERE (:account_id IS NULL OR r.account_id = :account_id) AND r.customer_id IS NOT NULL
         GROUP BY r.account_id, r.id, r.refunded_spent_points, r.reclaimed_earned_points,
                  r.forgiven_expired_points
        HAVING r.refunded_spent_points
                   <> -coalesce(sum(e.amount_points) FILTER (WHERE e.bucket = 'redeemed'), 0)
            OR r.reclaimed_earned_points - r.forgiven_expired_points
                   <> coalesce(sum(e.amount_points) FILTER (WHERE e.bucket = 'issued'), 0)
    """,
    # Vouchers and gift certificates: state = Σ movements, within limits, status consistent.
    "voucher_state_equals_movements": """
        SELECT v.account_id, v.id AS voucher_id, v.balance_minor, v.used_count, v.version,
               coalesce(m.amount, 0) AS movements_amount, coalesce(m.uses, 0) AS movements_uses,
               coalesce(m.movements, 0) AS movements
          FROM voucher v
          LEFT JOIN (
                SELECT account_id, voucher_id, sum(amount_minor) AS amount,
                       sum(uses_delta) AS uses, count(*) AS movements
                  FROM voucher_movement
                 WHERE (:account_id IS NULL OR account_id = :account_id)
                 GROUP BY account_id, voucher_id
          ) m ON m.account_id = v.account_id AND m.voucher_id = v.id
         WHERE (:account_id IS NULL OR v.account_id = :account_id)
           AND (v.balance_minor <> coalesce(m.amount, 0) OR v.used_count <> coalesce(m.uses, 0)
                OR v.version <> coalesce(m.movements, 0))
    """,
    "voucher_within_limits": """
        SELECT account_id, id AS voucher_id, balance_minor, used_count, usage_limit
          FROM voucher
         WHERE (:account_id IS NULL OR account_id = :account_id)
           AND (balance_minor < 0 OR used_count < 0
                OR (usage_limit IS NOT NULL AND used_count > usage_limit)
                OR (NOT has_balance AND balance_minor <> 0))
    """,
    "voucher_status_consistent": """
        SELECT account_id, id AS voucher_id, status, balance_minor, used_count, usage_limit
          FROM voucher
         WHERE (:account_id IS NULL OR account_id = :account_id)
           AND ((status IN ('ISSUED', 'REDEEMED')
                 AND ((has_balance AND balance_minor = 0)
                      OR (usage_limit IS NOT NULL AND used_count >= usage_limit))
                     <> (status = 'REDEEMED'))
                OR (status IN ('VOID', 'EXPIRED') AND balance_minor <> 0)
                OR (status = 'NEW' AND version <> 0))
    """,
    "voucher_running_state_chain": """
        SELECT account_id, voucher_id, id AS movement_id, voucher_version, balance_after_minor,
               running_amount, used_count_after, running_uses
          FROM (
                SELECT account_id, voucher_id, id, voucher_version, balance_after_minor,
                       used_count_after,
                       sum(amount_minor) OVER chain AS running_amount,
                       sum(uses_delta) OVER chain AS running_uses,
                       row_number() OVER chain AS position
                  FROM voucher_movement
                 WHERE (:account_id IS NULL OR account_id = :account_id)
                WINDOW chain AS (PARTITION BY account_id, voucher_id ORDER BY voucher_version)
          ) chain
         WHERE balance_after_minor IS DISTINCT FROM running_amount
            OR used_count_after IS DISTINCT FROM running_uses
            OR voucher_version IS DISTINCT FROM position
    """,
    "voucher_batch_usage_matches": """
        SELECT b.account_id, b.id AS batch_id, b.used_count, b.usage_limit,
               coalesce(sum(m.uses_delta), 0) AS movements_uses
          FROM voucher_batch b
          LEFT JOIN voucher_movement m ON m.account_id = b.account_id AND m.batch_id = b.id
         WHERE b.usage_limit IS NOT NULL AND (:account_id IS NULL OR b.account_id = :account_id)
         GROUP BY b.account_id, b.id, b.used_count, b.usage_limit
        HAVING b.used_count <> coalesce(sum(m.uses_delta), 0) OR b.used_count > b.usage_limit
    """,
    "voucher_customer_usage_matches": """
        SELECT coalesce(u.account_id, m.account_id) AS account_id,
               coalesce(u.batch_id, m.batch_id) AS batch_id,
               coalesce(u.customer_id, m.customer_id) AS customer_id,
               u.used_count, m.uses AS movements_uses, b.per_customer_limit
          FROM voucher_customer_usage u
          FULL JOIN (
                SELECT mv.account_id, mv.batch_id, mv.customer_id, sum(mv.uses_delta) AS uses
                  FROM voucher_movement mv
                  JOIN voucher_batch vb ON vb.account_id = mv.account_id AND vb.id = mv.batch_id
                 WHERE vb.per_customer_limit IS NOT NULL AND mv.customer_id IS NOT NULL
                   AND mv.uses_delta <> 0
                   AND (:account_id IS NULL OR mv.account_id = :account_id)
                 GROUP BY mv.account_id, mv.batch_id, mv.customer_id
          ) m ON m.account_id = u.account_id AND m.batch_id = u.batch_id
             AND m.customer_id = u.customer_id
          JOIN voucher_batch b ON b.account_id = coalesce(u.account_id, m.account_id)
                              AND b.id = coalesce(u.batch_id, m.batch_id)
         WHERE (:account_id IS NULL OR coalesce(u.account_id, m.account_id) = :account_id)
           AND (coalesce(u.used_count, 0) <> coalesce(m.uses, 0)
                OR coalesce(u.used_count, 0) > b.per_customer_limit)
    """,
    "voucher_returns_within_sale": """
        SELECT account_id, sale_id, voucher_id,
               -sum(amount_minor) FILTER (WHERE kind = 'redeem') AS redeemed_minor,
               sum(amount_minor) FILTER (WHERE kind = 'refund') AS refunded_minor,
               sum(uses_delta) AS net_uses
          FROM voucher_movement
         WHERE sale_id IS NOT NULL AND (:account_id IS NULL OR account_id = :account_id)
         GROUP BY account_id, sale_id, voucher_id
        HAVING coalesce(sum(amount_minor) FILTER (WHERE kind = 'refund'), 0)
                   > -coalesce(sum(amount_minor) FILTER (WHERE kind = 'redeem'), 0)
            OR sum(uses_delta) < 0
    """,
    "gift_card_payments_within_sale": """
        SELECT s.account_id, s.id AS sale_id, s.paid_minor, -sum(m.amount_minor) AS paid_by_cards
          FROM sale s
          JOIN voucher_movement m ON m.account_id = s.account_id AND m.sale_id = s.id
          JOIN voucher v ON v.account_id = m.account_id AND v.id = m.voucher_id
         WHERE m.kind = 'redeem' AND v.voucher_type = 'GIFT'
           AND (:account_id IS NULL OR s.account_id = :account_id)
         GROUP BY s.account_id, s.id, s.paid_minor
        HAVING -sum(m.amount_minor) > s.paid_minor
    """,
}


async def verify_ledger(
    session: AsyncSession, account_id: uuid.UUID | None = None
) -> list[Violation]:
    """Every violated invariant (of one account, or all). The audit settings stay in force for
    the rest of the caller's transaction."""
    await _audit_settings(session)
    violations: list[Violation] = []
    for name, sql in CHECKS.items():
        statement = sa.text(sql).bindparams(sa.bindparam("account_id", type_=sa.Uuid))
        rows = await session.execute(statement, {"account_id": account_id})
        for row in rows.mappings():
            detail = {
                key: (str(value) if value is not None else None) for key, value in row.items()
            }
            violations.append(Violation(name, detail.get("account_id"), detail))
    return violations


async def ledger_counts(
    session: AsyncSession, account_id: uuid.UUID | None = None
) -> dict[str, int]:
    await _audit_settings(session)
    counts = {}
    for table in (
        "customer_balance",
        "ledger_transaction",
        "ledger_entry",
        "points_lot",
        "sale",
        "sales_return",
        "voucher",
        "voucher_movement",
    ):
        statement = sa.text(
            f"SELECT count(*) FROM {table} WHERE (:account_id IS NULL OR account_id = :account_id)"
        ).bindparams(sa.bindparam("account_id", type_=sa.Uuid))
        counts[table] = int(
            (await session.execute(statement, {"account_id": account_id})).scalar_one()
        )
    return counts
