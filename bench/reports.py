"""Report queries at scale: seed a large account with SQL, print the plans and timings.

    python -m bench.reports                        # 100k customers, ~1M ledger entries
    python -m bench.reports --large                # 1M customers, ~10M ledger entries
    python -m bench.reports --customers 300000 --entries 3000000 --url postgresql://…/postgres

A database `loyalty_bench_reports_<random>` is created on the given server, migrated to head,
seeded and dropped at the end (`--keep` keeps it). Seeding writes the tables directly with
generate_series and `session_replication_role = replica`, skipping the per-row ledger triggers
that would make millions of entries slow to write; the data keeps the ledger's shape (every
transaction sums to zero, balances are the sums of live lots). A second account with a tenth of
the data shares the tables, so every statement has to pick its account's rows.

History spans a year: 20 % of sales outside the program, a fifth of program sales spend points,
2 % are returns; lots expire after 180 days (half of the expiries posted, half still lazy), the
last 8 days' lots wait 7 days for activation (a day of them is due but not posted).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bench.seed import plain_url
from loyalty.config import Settings
from loyalty.db.engine import make_engine, make_sessionmaker
from loyalty.db.migrate import upgrade_to_head
from loyalty.reports import repository, service

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
ENTRIES_PER_SALE = 2.4  # average ledger entries per generated document, expiries included
STORES = 20
HISTORY_DAYS = 365
# In the seed SQL: lots expire after 180 days; the last 8 days' lots wait 7 days to activate.
REPEATS = 5

SEED_STATEMENTS = (
    """
    INSERT INTO account (id, name, created_at)
    VALUES (CAST(:account AS uuid), 'Reports benchmark', now() - interval '400 days')
    """,
    """
    INSERT INTO customer (account_id, id, moysklad_id, name, created_at, updated_at)
    SELECT CAST(:account AS uuid), md5(:account_key || ':' || n)::uuid, 'ms-' || n,
           'Покупатель ' || n,
           now() - interval '400 days', now() - interval '400 days'
      FROM generate_series(1, :customers) AS n
    """,
    # One row per document; ids are the series number so later statements can refer to them.
    """
    CREATE TEMP TABLE seed_document AS
    SELECT g,
           CASE WHEN g % 50 < 10 THEN 'anonymous' WHEN g % 50 = 10 THEN 'return'
                WHEN g % 50 <= 20 THEN 'spend' ELSE 'earn' END AS kind,
           md5(:account_key || ':' || (1 + (g * 2654435761) % :customers))::uuid AS customer_id,
           now() - make_interval(secs => (:documents - g) * CAST(:spacing_seconds AS float8))
               AS moment,
           'store-' || (g % :stores) AS store,
           10 + (g * 7) % 390 AS earn_points,
           1 + g % 97 AS spend_points,
           100 * (200 + (g * 37) % 9800) AS paid_minor
      FROM generate_series(1, :documents) AS g
    """,
    """
    INSERT INTO sale (account_id, id, idempotency_key, request_hash, moysklad_id,
                      retail_store_id, customer_id, total_minor, paid_minor, spent_points,
                      earned_points, ledger_transaction_id, created_at)
    SELECT CAST(:account AS uuid), g, 'ms:' || g, '\\x00', g::text, store,
           CASE WHEN kind = 'anonymous' THEN NULL ELSE customer_id END,
           paid_minor + CASE WHEN kind = 'spend' THEN 100 * spend_points ELSE 0 END, paid_minor,
           CASE WHEN kind = 'spend' THEN spend_points ELSE 0 END,
           CASE WHEN kind = 'anonymous' THEN 0 ELSE earn_points END,
           CASE WHEN kind = 'anonymous' THEN NULL ELSE g END, moment
      FROM seed_document WHERE kind <> 'return'
    """,
    """
    INSERT INTO sales_return (account_id, id, idempotency_key, request_hash, retail_store_id,
                              customer_id, returned_minor, reclaimed_earned_points,
                              ledger_transaction_id, created_at)
    SELECT CAST(:account AS uuid), g, 'ms:' || g, '\\x00', store, customer_id, paid_minor / 2,
           earn_points / 2, g, moment
      FROM seed_document WHERE kind = 'return'
    """,
    """
    INSERT INTO ledger_transaction (account_id, id, kind, idempotency_key, customer_id,
                                    effective_at, created_at)
    SELECT CAST(:account AS uuid), g, CASE WHEN kind = 'return' THEN 'return' ELSE 'sale' END,
           'seed:' || g, customer_id, moment, moment
      FROM seed_document WHERE kind <> 'anonymous'
    """,
    """
    INSERT INTO ledger_entry (account_id, transaction_id, bucket, customer_id, amount_points)
    SELECT CAST(:account AS uuid), d.g, e.bucket, e.customer_id, e.amount
      FROM seed_document d
     CROSS JOIN LATERAL (VALUES
           ('issued', NULL::uuid, -d.earn_points, d.kind IN ('earn', 'spend')),
           ('available', d.customer_id, d.earn_points, d.kind IN ('earn', 'spend')),
           ('redeemed', NULL::uuid, d.spend_points, d.kind = 'spend'),
           ('available', d.customer_id, -d.spend_points, d.kind = 'spend'),
           ('issued', NULL::uuid, d.earn_points / 2, d.kind = 'return'),
           ('available', d.customer_id, -(d.earn_points / 2), d.kind = 'return'))
           AS e(bucket, customer_id, amount, wanted)
     WHERE e.wanted AND e.amount <> 0
    """,
    # Lots: the last 8 days pending, older than EXPIRY_DAYS expired (even ids posted, odd lazy),
    # the rest partly spent.
    """
    CREATE TEMP TABLE seed_lot AS
    SELECT g, customer_id, earn_points AS amount_points,
           earn_points - (earn_points * (g % 4)) / 4 AS left_points,
           moment + interval '180 days' AS expires_at,
           CASE WHEN moment > now() - interval '8 days'
                THEN moment + interval '7 days' ELSE moment END
               AS activates_at,
           moment > now() - interval '8 days' AS pending,
           moment + interval '180 days' <= now() AND g % 2 = 0
               AS expiry_posted
      FROM seed_document WHERE kind IN ('earn', 'spend')
    """,
    """
    INSERT INTO points_lot (account_id, id, customer_id, transaction_id, amount_points,
                            remaining_points, state, activates_at, expires_at, created_at)
    SELECT CAST(:account AS uuid), g, customer_id, g, amount_points,
           CASE WHEN expiry_posted THEN 0 WHEN pending THEN amount_points ELSE left_points END,
           CASE WHEN expiry_posted THEN 'closed' WHEN pending THEN 'pending' ELSE 'active' END,
           activates_at, expires_at, activates_at
      FROM seed_lot
    """,
    """
    INSERT INTO ledger_transaction (account_id, id, kind, idempotency_key, customer_id,
                                    effective_at, created_at)
    SELECT CAST(:account AS uuid), :documents + g, 'expiry', 'expiry:' || g, customer_id,
           expires_at, now()
      FROM seed_lot WHERE expiry_posted
    """,
    """
    INSERT INTO ledger_entry (account_id, transaction_id, bucket, customer_id, amount_points)
    SELECT CAST(:account AS uuid), :documents + l.g, e.bucket, e.customer_id, e.amount
      FROM seed_lot l
     CROSS JOIN LATERAL (VALUES ('expired', NULL::uuid, l.left_points),
                                ('available', l.customer_id, -l.left_points))
           AS e(bucket, customer_id, amount)
     WHERE l.expiry_posted
    """,
    """
    INSERT INTO customer_balance (account_id, customer_id, available_points, pending_points,
                                  next_maturity_at)
    SELECT c.id_account, c.id,
           coalesce(sum(l.remaining_points) FILTER (WHERE l.state = 'active'), 0),
           coalesce(sum(l.remaining_points) FILTER (WHERE l.state = 'pending'), 0),
           least(min(l.expires_at), min(l.activates_at) FILTER (WHERE l.state = 'pending'))
      FROM (SELECT account_id AS id_account, id FROM customer
             WHERE account_id = CAST(:account AS uuid)) AS c
      LEFT JOIN points_lot l
        ON l.account_id = c.id_account AND l.customer_id = c.id AND l.state <> 'closed'
     GROUP BY c.id_account, c.id
    """,
    """
    INSERT INTO voucher_batch (account_id, id, code, name, voucher_type, face_value_minor,
                               has_balance, code_length, code_alphabet)
    VALUES (CAST(:account AS uuid), md5(:account_key || '/batch')::uuid, 'GIFT', 'Сертификаты',
            'GIFT', 500000, true, 12, '0123456789ABCDEFGHJK')
    """,
    # Gift certificates: one per ten customers; a tenth spent, a tenth past their expiry.
    """
    INSERT INTO voucher (account_id, id, batch_id, serial_number, code, voucher_type, currency,
                         face_value_minor, has_balance, status, balance_minor,
                         initial_balance_minor, expires_at, issued_at)
    SELECT CAST(:account AS uuid), md5(:account_key || '/voucher/' || n)::uuid,
           md5(:account_key || '/batch')::uuid, n, 'GC' || n, 'GIFT', 'RUB', 500000, true,
           CASE WHEN n % 10 = 0 THEN 'REDEEMED' ELSE 'ISSUED' END,
           CASE WHEN n % 10 = 0 THEN 0 ELSE 500000 - (n * 997) % 400000 END, 500000,
           now() + interval '1 day' * (CASE WHEN n % 10 = 1 THEN -30 ELSE 365 END),
           now() - interval '30 days'
      FROM generate_series(1, greatest(:customers / 10, 1)) AS n
    """,
    "DROP TABLE seed_document",
    "DROP TABLE seed_lot",
)


async def seed_account(
    session: AsyncSession, account_id: uuid.UUID, *, customers: int, entries: int
) -> int:
    documents = max(int(entries / ENTRIES_PER_SALE), 1)
    params = {
        "account": str(account_id),
        "account_key": str(account_id),
        "customers": customers,
        "documents": documents,
        "spacing_seconds": HISTORY_DAYS * 86400 / documents,
        "stores": STORES,
    }
    await session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    for statement in SEED_STATEMENTS:
        await session.execute(sa.text(statement), params)
    count = await session.scalar(
        sa.text("SELECT count(*) FROM ledger_entry WHERE account_id = CAST(:account AS uuid)"),
        params,
    )
    return int(count or 0)


def report_statements(
    account_id: uuid.UUID, now: datetime
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The service's own statements with the parameters it would send."""
    today = now.date()

    def daily(days: int, store: str | None) -> tuple[str, dict[str, Any]]:
        start, end = service.period_bounds(today - timedelta(days=days - 1), today)
        params: dict[str, Any] = {
            "account_id": account_id,
            "start": start,
            "end": end,
            "timezone": service.REPORT_TIMEZONE,
            "now": now,
        }
        if store is not None:
            params["retail_store_id"] = store
        return repository.daily_sql(by_store=store is not None), params

    until = {days: now + timedelta(days=days) for days in service.EXPIRY_WINDOWS_DAYS}
    return {
        "liability": (
            repository.LIABILITY_SQL,
            {
                "account_id": account_id,
                "now": now,
                "until_30": until[30],
                "until_60": until[60],
                "until_90": until[90],
            },
        ),
        "daily, 31 days, all stores": daily(31, None),
        "daily, 31 days, one store": daily(31, "store-7"),
        "daily, 366 days, all stores": daily(service.MAX_PERIOD_DAYS, None),
        "tiers": (repository.TIERS_SQL, {"account_id": account_id, "no_tier": repository.NO_TIER}),
    }


def report_calls(
    account_id: uuid.UUID, now: datetime
) -> dict[str, Callable[[AsyncSession], Awaitable[Any]]]:
    today = now.date()

    def daily(days: int, store: str | None) -> Callable[[AsyncSession], Awaitable[Any]]:
        def call(session: AsyncSession) -> Awaitable[Any]:
            return service.daily(
                session,
                account_id,
                date_from=today - timedelta(days=days - 1),
                date_to=today,
                retail_store_id=store,
                now=now,
            )

        return call

    return {
        "liability": lambda session: service.liability(session, account_id, now),
        "daily, 31 days, all stores": daily(31, None),
        "daily, 31 days, one store": daily(31, "store-7"),
        "daily, 366 days, all stores": daily(service.MAX_PERIOD_DAYS, None),
        "tiers": lambda session: service.tiers(session, account_id),
    }


async def time_reports(
    sessions: Callable[[], AsyncSession], account_id: uuid.UUID, now: datetime, when: str
) -> None:
    print(f"\n=== timings through the service (ms), {when}: one warm-up, then {REPEATS} runs")
    for name, call in report_calls(account_id, now).items():
        timings = []
        for attempt in range(REPEATS + 1):
            async with sessions() as session, session.begin():
                begun = time.perf_counter()
                await call(session)
                if attempt:
                    timings.append((time.perf_counter() - begun) * 1000)
        print(
            f"{name:32} median {statistics.median(timings):8.1f}"
            f"  min {min(timings):8.1f}  max {max(timings):8.1f}"
        )


async def measure(database_url: str, *, customers: int, entries: int) -> None:
    settings = Settings(DATABASE_URL=database_url, DATABASE_STATEMENT_TIMEOUT_MS=3_600_000)
    engine = make_engine(settings, pooled=False)
    sessions = make_sessionmaker(engine)
    account_id, other_id = uuid.uuid4(), uuid.uuid4()
    try:
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            written = await seed_account(session, account_id, customers=customers, entries=entries)
            await seed_account(
                session, other_id, customers=max(customers // 10, 1), entries=entries // 10
            )
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(sa.text("VACUUM ANALYZE"))
        print(
            f"seeded {customers} customers, {written} ledger entries in the measured account"
            f" (+10 % in another) in {time.perf_counter() - started:.0f} s"
        )
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            for name, (statement, params) in report_statements(account_id, now).items():
                plan = await session.execute(
                    sa.text("EXPLAIN (ANALYZE, BUFFERS) " + statement), params
                )
                print(f"\n=== {name}: plan")
                for row in plan:
                    print(row[0])
        await time_reports(sessions, account_id, now, "before the rollup")

        async with sessions() as session, session.begin():
            begun = time.perf_counter()
            rolled = await service.roll_up(session, account_id, now)
        print(
            f"\n=== rollup: {rolled.days_added} days through {rolled.through_day}"
            f" in {time.perf_counter() - begun:.1f} s"
        )
        async with sessions() as session, session.begin():
            first_day = now.date() - timedelta(days=service.MAX_PERIOD_DAYS - 1)
            plan = await session.execute(
                sa.text("EXPLAIN (ANALYZE, BUFFERS) " + repository.rolled_up_sql(by_store=False)),
                {"account_id": account_id, "first_day": first_day, "last_day": rolled.through_day},
            )
            print("\n=== daily, 366 days, all stores, rolled-up part: plan")
            for row in plan:
                print(row[0])
        await time_reports(sessions, account_id, now, "after the rollup")
    finally:
        await engine.dispose()


async def create_database(server_url: str) -> tuple[str, str]:
    name = f"loyalty_bench_reports_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(plain_url(server_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, _ = plain_url(server_url).rpartition("/")
    return name, f"{base}/{name}"


async def drop_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(plain_url(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=DEFAULT_SERVER, help="server to create the database on")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger entries (approx.)")
    parser.add_argument("--large", action="store_true", help="1M customers, 10M entries")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    customers, entries = (1_000_000, 10_000_000) if args.large else (args.customers, args.entries)
    name, database_url = asyncio.run(create_database(args.url))
    print(f"database {name}; {date.today()}")
    try:
        upgrade_to_head(Settings(DATABASE_URL=database_url))
        asyncio.run(measure(database_url, customers=customers, entries=entries))
    finally:
        if args.keep:
            print(f"kept {database_url}")
        else:
            asyncio.run(drop_database(args.url, name))


if __name__ == "__main__":
    main()
