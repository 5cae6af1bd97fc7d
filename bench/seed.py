"""Seed a benchmark database: one merchant, N customers with Zipf-distributed history.

History is written in bulk SQL through the real tables and triggers (balances are maintained by
the ledger trigger, every transaction sums to zero), so `loyalty ledger verify` is green after
seeding and the ledger indexes have production-like size.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass

import asyncpg

from loyalty.accounts.tokens import generate_token, hash_token
from loyalty.common import crypto
from loyalty.config import Settings

ZIPF_EXPONENT = 1.1


@dataclass(frozen=True)
class Seeded:
    account_id: uuid.UUID
    token: str
    customer_ids: list[str]  # MoySklad ids, in Zipf rank order (index 0 is the busiest)
    weights: list[float]
    ledger_entries: int


def zipf_weights(count: int, exponent: float = ZIPF_EXPONENT) -> list[float]:
    return [1.0 / (rank**exponent) for rank in range(1, count + 1)]


def plain_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def seed(
    database_url: str, *, customers: int, ledger_entries: int, settings: Settings
) -> Seeded:
    keyring = crypto.install(settings)
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        account_id = uuid.uuid4()
        token = generate_token()
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO account (id, name) VALUES ($1, 'Benchmark merchant')", account_id
            )
            await connection.execute(
                "INSERT INTO program_settings (account_id, earn_percent, max_spend_percent)"
                " VALUES ($1, 5, 50)",
                account_id,
            )
            await connection.execute(
                "INSERT INTO api_token (account_id, token_hash, state, confirmed_at)"
                " VALUES ($1, $2, 'active', now())",
                account_id,
                hash_token(token),
            )
        moysklad_ids = [str(uuid.uuid4()) for _ in range(customers)]
        rows = []
        for index, ms_id in enumerate(moysklad_ids):
            phone = f"+7900{index:07d}"
            rows.append(
                (
                    account_id,
                    uuid.uuid5(account_id, ms_id),
                    ms_id,
                    f"Покупатель {index}",
                    keyring.encrypt(phone),
                    keyring.blind_index(account_id, "phone", phone),
                    f"CARD{index:08d}",
                )
            )
        await connection.copy_records_to_table(
            "customer",
            records=rows,
            columns=[
                "account_id",
                "id",
                "moysklad_id",
                "name",
                "phone_ciphertext",
                "phone_index",
                "card_number",
            ],
        )
        await connection.execute(
            "INSERT INTO customer_balance (account_id, customer_id)"
            " SELECT account_id, id FROM customer WHERE account_id = $1",
            account_id,
        )
        # Earning history: each transaction is two entries (issued → available) and one lot.
        weights = zipf_weights(customers)
        transactions = ledger_entries // 2
        rng = random.Random(20261122)
        chosen = rng.choices(range(customers), weights=weights, k=transactions)
        history = [
            (str(uuid.uuid5(account_id, moysklad_ids[index])), rng.randint(1, 400))
            for index in chosen
        ]
        await connection.execute(
            "CREATE TEMP TABLE seed_history (position bigserial, customer_id uuid, points bigint)"
        )
        await connection.copy_records_to_table(
            "seed_history", records=history, columns=["customer_id", "points"]
        )
        async with connection.transaction():
            await connection.execute(
                """
                INSERT INTO ledger_transaction (account_id, kind, idempotency_key, customer_id,
                                                effective_at, created_at)
                SELECT $1, 'adjustment', 'seed:' || position, customer_id,
                       now() - interval '1 minute' * position,
                       now() - interval '1 minute' * position
                  FROM seed_history ORDER BY position
                """,
                account_id,
            )
            # Without statistics the planner takes both fresh tables for a few pages and joins
            # them by nested loops: hours instead of seconds.
            await connection.execute("ANALYZE seed_history")
            await connection.execute("ANALYZE ledger_transaction")
            # The per-entry balance trigger would update the hottest customers' rows tens of
            # thousands of times in this one transaction, each update walking the row's whole
            # version chain. History is loaded with triggers off (superuser, this transaction
            # only) and the balances are then set from the entries; `ledger verify` at the end
            # of every run checks the result like any other ledger.
            await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.execute(
                """
                INSERT INTO ledger_entry
                       (account_id, transaction_id, bucket, customer_id, amount_points,
                        balance_after_points, account_version)
                SELECT t.account_id, t.id, e.bucket, e.customer_id, e.amount,
                       CASE WHEN e.customer_id IS NOT NULL THEN sum(e.amount) OVER chain END,
                       CASE WHEN e.customer_id IS NOT NULL THEN row_number() OVER chain END
                  FROM seed_history h
                  JOIN ledger_transaction t
                    ON t.account_id = $1 AND t.idempotency_key = 'seed:' || h.position
                 CROSS JOIN LATERAL (VALUES (1, 'available', h.customer_id, h.points),
                                            (2, 'adjustment', NULL::uuid, -h.points))
                       AS e(ord, bucket, customer_id, amount)
                WINDOW chain AS (PARTITION BY e.customer_id ORDER BY h.position)
                 ORDER BY h.position, e.ord
                """,
                account_id,
            )
            await connection.execute(
                """
                INSERT INTO points_lot (account_id, customer_id, transaction_id, amount_points,
                                        remaining_points, state, activates_at, expires_at)
                SELECT t.account_id, h.customer_id, t.id, h.points, h.points, 'active',
                       t.effective_at, NULL
                  FROM seed_history h
                  JOIN ledger_transaction t
                    ON t.account_id = $1 AND t.idempotency_key = 'seed:' || h.position
                """,
                account_id,
            )
            await connection.execute(
                """
                UPDATE customer_balance b
                   SET available_points = totals.points, version = totals.entries
                  FROM (SELECT customer_id, sum(amount_points) AS points, count(*) AS entries
                          FROM ledger_entry
                         WHERE account_id = $1 AND customer_id IS NOT NULL
                         GROUP BY customer_id) AS totals
                 WHERE b.account_id = $1 AND b.customer_id = totals.customer_id
                """,
                account_id,
            )
        # Measure a steady state, not the aftermath of a bulk load: vacuum now what autovacuum
        # would otherwise vacuum during the first runs (a million fresh rows pass its insert
        # threshold), and write the loaded pages out before the clock starts.
        await connection.execute("VACUUM (ANALYZE)")
        await connection.execute("CHECKPOINT")
        return Seeded(account_id, token, moysklad_ids, weights, transactions * 2)
    finally:
        await connection.close()


def run_seed(
    database_url: str, *, customers: int, ledger_entries: int, settings: Settings
) -> Seeded:
    return asyncio.run(
        seed(database_url, customers=customers, ledger_entries=ledger_entries, settings=settings)
    )
