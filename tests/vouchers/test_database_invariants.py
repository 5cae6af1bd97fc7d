"""The voucher ledger's invariants hold in PostgreSQL even against code that tries to break them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.ledger.audit import verify_ledger
from tests.conftest import Tenant, create_tenant
from tests.ledger.test_database_invariants import failure_of
from tests.support import payloads
from tests.support.db import Database
from tests.support.server import LiveServer
from tests.support.vouchers import Operator, operator_client

MOVEMENT = (
    "INSERT INTO voucher_movement (account_id, voucher_id, batch_id, kind, amount_minor,"
    " uses_delta, idempotency_key, occurred_at)"
    " SELECT account_id, id, batch_id, :kind, :amount, :uses, id || ':' || :key, now()"
    " FROM voucher WHERE account_id = :a AND id = :v"
)


@pytest.fixture
def card(operator: Operator) -> dict[str, Any]:
    return operator.certificate(10_000, usesPerVoucher=2)


def movement(
    tenant: Tenant, card: dict[str, Any], kind: str, amount: int, uses: int, key: str
) -> tuple[str | None, str | None]:
    return failure_of(
        tenant.db,
        MOVEMENT,
        a=tenant.account_id,
        v=card["id"],
        kind=kind,
        amount=amount,
        uses=uses,
        key=key,
    )


class TestStateOnlyThroughMovements:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE voucher SET balance_minor = balance_minor + 100 WHERE account_id = :a",
            "UPDATE voucher SET used_count = 1 WHERE account_id = :a",
            "UPDATE voucher SET status = 'REDEEMED' WHERE account_id = :a",
        ],
    )
    def test_direct_changes_are_refused(
        self, tenant: Tenant, card: dict[str, Any], statement: str
    ) -> None:
        assert failure_of(tenant.db, statement, a=tenant.account_id) == (
            "23514",
            "voucher_state_from_movements_only",
        )

    def test_a_voucher_keeps_its_code_and_serial_number(
        self, tenant: Tenant, card: dict[str, Any]
    ) -> None:
        statement = "UPDATE voucher SET code = 'FORGED' WHERE account_id = :a"
        assert failure_of(tenant.db, statement, a=tenant.account_id) == (
            "23514",
            "voucher_identity_immutable",
        )

    def test_a_voucher_starts_new_and_empty(self, tenant: Tenant, card: dict[str, Any]) -> None:
        statement = (
            "INSERT INTO voucher (account_id, id, batch_id, serial_number, code, voucher_type,"
            " currency, face_value_minor, has_balance, status, balance_minor)"
            " SELECT account_id, gen_random_uuid(), batch_id, 999999, 'X', 'GIFT', 'RUB', 1,"
            " true, 'ISSUED', 100000 FROM voucher WHERE account_id = :a"
        )
        assert failure_of(tenant.db, statement, a=tenant.account_id) == (
            "23514",
            "voucher_state_from_movements_only",
        )

    def test_use_counters_change_only_through_movements(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        batch = operator.batch(usageLimit=5, perCustomerLimit=1)
        customer = tenant.register()
        customer_id = tenant.db.scalar(
            "SELECT id FROM customer WHERE account_id = :a AND moysklad_id = :m",
            a=tenant.account_id,
            m=customer,
        )
        assert failure_of(
            tenant.db,
            "UPDATE voucher_batch SET used_count = 1 WHERE account_id = :a",
            a=tenant.account_id,
        ) == ("23514", "voucher_usage_from_movements_only")
        assert failure_of(
            tenant.db,
            "INSERT INTO voucher_customer_usage VALUES (:a, :b, :c, 0)",
            a=tenant.account_id,
            b=batch["id"],
            c=customer_id,
        ) == ("23514", "voucher_usage_from_movements_only")


class TestMovements:
    def test_no_overdraft(self, tenant: Tenant, card: dict[str, Any]) -> None:
        assert movement(tenant, card, "redeem", -10_001, 1, "x") == (
            "23514",
            "ck_voucher_balance_non_negative",
        )

    def test_no_use_beyond_the_limit(self, tenant: Tenant, card: dict[str, Any]) -> None:
        assert movement(tenant, card, "redeem", -1, 3, "x") == (
            "23514",
            "ck_voucher_used_within_limit",
        )

    def test_only_an_issued_voucher_is_redeemed(
        self, tenant: Tenant, operator: Operator, card: dict[str, Any]
    ) -> None:
        operator.ok(operator.post(f"/vouchers/{card['id']}/void", {}))
        assert movement(tenant, card, "redeem", -1, 1, "x") == (
            "23514",
            "voucher_status_transition",
        )
        assert movement(tenant, card, "adjust", 100, 0, "y") == (
            "23514",
            "voucher_status_transition",
        )

    def test_a_void_writes_off_the_whole_balance(
        self, tenant: Tenant, card: dict[str, Any]
    ) -> None:
        assert movement(tenant, card, "void", -1, 0, "x") == (
            "23514",
            "ck_voucher_closed_is_empty",
        )

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE voucher_movement SET amount_minor = 0 WHERE account_id = :a",
            "DELETE FROM voucher_movement WHERE account_id = :a",
            "TRUNCATE voucher_movement",
            "UPDATE audit_log SET actor = 'someone else' WHERE account_id = :a",
            "DELETE FROM audit_log WHERE account_id = :a",
        ],
    )
    def test_history_is_append_only(
        self, tenant: Tenant, card: dict[str, Any], statement: str
    ) -> None:
        assert failure_of(tenant.db, statement, a=tenant.account_id) == (
            "23514",
            "ledger_append_only",
        )

    def test_a_replayed_key_changes_nothing_even_with_on_conflict(
        self, tenant: Tenant, operator: Operator, card: dict[str, Any]
    ) -> None:
        replay = MOVEMENT + " ON CONFLICT (account_id, idempotency_key) DO NOTHING"
        params = {
            "a": tenant.account_id,
            "v": card["id"],
            "kind": "adjust",
            "amount": 500,
            "uses": 0,
            "key": "once",
        }
        tenant.db.fetch(replay + " RETURNING id", **params)
        tenant.db.fetch(replay + " RETURNING id", **params)
        after = operator.voucher(card["id"])
        assert (after["balanceMinor"], after["updatedAt"] is not None) == (10_500, True)
        assert (
            tenant.db.scalar(
                "SELECT version FROM voucher WHERE account_id = :a AND id = :v",
                a=tenant.account_id,
                v=card["id"],
            )
            == 2
        )


def test_ledger_verify_finds_tampered_vouchers(db: Database, server: LiveServer) -> None:
    victim = create_tenant(db, server, "Подделка")
    operator = operator_client(victim)
    card = operator.certificate(10_000)
    limited = operator.batch(usageLimit=5, code="LIM")
    [other] = operator.generate(limited["id"])
    sale = payloads.sale(
        payloads.new_id(),
        None,
        [payloads.position(quantity=1, price=100)],
        giftCards=[{"id": card["id"], "name": card["code"], "paymentSum": 10_000}],
    )
    assert victim.post("/retaildemand", sale).status_code == 201

    async def tamper(session: AsyncSession) -> None:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in (
            "UPDATE voucher SET balance_minor = 700 WHERE account_id = :a AND id = :card",
            "UPDATE voucher_movement SET amount_minor = -20000"
            " WHERE account_id = :a AND voucher_id = :card AND kind = 'redeem'",
            "UPDATE voucher SET status = 'REDEEMED' WHERE account_id = :a AND id = :other",
            "UPDATE voucher_batch SET used_count = 3 WHERE account_id = :a AND code = 'LIM'",
        ):
            await session.execute(
                text(statement), {"a": victim.account_id, "card": card["id"], "other": other["id"]}
            )

    db.run(tamper)

    async def verify(session: AsyncSession) -> Any:
        return await verify_ledger(session, victim.account_id)

    checks = {violation.check for violation in db.run(verify)}
    assert {
        "voucher_state_equals_movements",
        "voucher_running_state_chain",
        "voucher_status_consistent",
        "voucher_batch_usage_matches",
        "gift_card_payments_within_sale",
    } <= checks
    victim.client.close()
