"""The ledger's invariants hold in PostgreSQL even against code that tries to break them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.db.errors import constraint_name, sqlstate
from loyalty.ledger.audit import verify_ledger
from tests.conftest import Tenant, create_tenant
from tests.support import payloads
from tests.support.db import Database
from tests.support.server import LiveServer


def failure_of(db: Database, *statements: str, **params: Any) -> tuple[str | None, str | None]:
    """Run statements in one transaction; return (SQLSTATE, constraint) of the failure."""

    async def work(session: AsyncSession) -> None:
        for statement in statements:
            await session.execute(text(statement), params)

    with pytest.raises(DBAPIError) as caught:
        db.run(work)
    return sqlstate(caught.value), constraint_name(caught.value)


@pytest.fixture
def funded(tenant: Tenant) -> str:
    """A customer with earned points, some spent (so every ledger table has rows)."""
    customer = tenant.register()
    tenant.buy(customer, [payloads.position(quantity=1, price=2000)])
    tenant.buy(customer, [payloads.position(quantity=1, price=10)], spending=True)
    return customer


class TestAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE ledger_entry SET amount_points = amount_points * 2 WHERE account_id = :a",
            "DELETE FROM ledger_entry WHERE account_id = :a",
            "UPDATE ledger_transaction SET kind = 'adjustment' WHERE account_id = :a",
            "DELETE FROM ledger_transaction WHERE account_id = :a",
            "DELETE FROM points_lot_movement WHERE account_id = :a",
            "TRUNCATE ledger_entry CASCADE",
        ],
    )
    def test_rewriting_history_is_refused(
        self, tenant: Tenant, funded: str, statement: str
    ) -> None:
        assert failure_of(tenant.db, statement, a=tenant.account_id) == (
            "23514",
            "ledger_append_only",
        )


class TestBalances:
    def test_balances_cannot_be_set_directly(self, tenant: Tenant, funded: str) -> None:
        state, constraint = failure_of(
            tenant.db,
            "UPDATE customer_balance SET available_points = 1000000 WHERE account_id = :a",
            a=tenant.account_id,
        )
        assert (state, constraint) == ("23514", "customer_balance_from_ledger_only")

    def test_a_balance_row_starts_at_zero(self, tenant: Tenant) -> None:
        customer_id = tenant.db.scalar("SELECT gen_random_uuid()")
        state, _ = failure_of(
            tenant.db,
            "INSERT INTO customer (account_id, id) VALUES (:a, :c)",
            "INSERT INTO customer_balance (account_id, customer_id, available_points)"
            " VALUES (:a, :c, 500)",
            a=tenant.account_id,
            c=customer_id,
        )
        assert state == "23514"

    def test_an_entry_cannot_overdraw_the_available_balance(
        self, tenant: Tenant, funded: str
    ) -> None:
        customer_id = tenant.db.scalar(
            "SELECT id FROM customer WHERE account_id = :a AND moysklad_id = :m",
            a=tenant.account_id,
            m=funded,
        )
        state, constraint = failure_of(
            tenant.db,
            "INSERT INTO ledger_transaction (account_id, kind, idempotency_key, effective_at)"
            " VALUES (:a, 'adjustment', 'overdraw', now())",
            "INSERT INTO ledger_entry"
            " (account_id, transaction_id, bucket, customer_id, amount_points)"
            " SELECT :a, id, 'available', :c, -1000 FROM ledger_transaction WHERE account_id = :a"
            " AND idempotency_key = 'overdraw'",
            a=tenant.account_id,
            c=customer_id,
        )
        assert (state, constraint) == ("23514", "ck_customer_balance_available_points_non_negative")


class TestDoubleEntry:
    def test_an_unbalanced_transaction_fails_at_commit(self, tenant: Tenant, funded: str) -> None:
        state, constraint = failure_of(
            tenant.db,
            "INSERT INTO ledger_transaction (account_id, kind, idempotency_key, effective_at)"
            " VALUES (:a, 'adjustment', 'one-legged', now())",
            "INSERT INTO ledger_entry (account_id, transaction_id, bucket, amount_points)"
            " SELECT :a, id, 'issued', -5 FROM ledger_transaction WHERE account_id = :a"
            " AND idempotency_key = 'one-legged'",
            a=tenant.account_id,
        )
        assert (state, constraint) == ("23514", "ledger_transaction_balanced")

    def test_an_idempotency_key_is_used_once_per_account(self, tenant: Tenant, funded: str) -> None:
        key = tenant.db.scalar(
            "SELECT idempotency_key FROM ledger_transaction WHERE account_id = :a LIMIT 1",
            a=tenant.account_id,
        )
        state, _ = failure_of(
            tenant.db,
            "INSERT INTO ledger_transaction (account_id, kind, idempotency_key, effective_at)"
            " VALUES (:a, 'sale', :k, now())",
            a=tenant.account_id,
            k=key,
        )
        assert state == "23505"


class TestVerifyFindsCorruption:
    """With the guards switched off (as a restore gone wrong might), verify must notice."""

    def test_a_tampered_balance_and_entry_are_reported(
        self, db: Database, server: LiveServer
    ) -> None:
        victim = create_tenant(db, server)
        customer = victim.register()
        victim.buy(customer, [payloads.position(quantity=1, price=2000)])

        async def tamper(session: AsyncSession) -> None:
            await session.execute(text("SET LOCAL session_replication_role = replica"))
            await session.execute(
                text(
                    "UPDATE customer_balance SET available_points = available_points + 7"
                    " WHERE account_id = :a"
                ),
                {"a": victim.account_id},
            )
            await session.execute(
                text(
                    "UPDATE ledger_entry SET amount_points = amount_points + 1"
                    " WHERE account_id = :a AND bucket = 'issued'"
                ),
                {"a": victim.account_id},
            )

        db.run(tamper)

        async def verify(session: AsyncSession) -> Any:
            return await verify_ledger(session, victim.account_id)

        checks = {violation.check for violation in db.run(verify)}
        assert {
            "balance_equals_entries",
            "transaction_sums_to_zero",
            "lots_match_balance",
        } <= checks
        victim.client.close()
