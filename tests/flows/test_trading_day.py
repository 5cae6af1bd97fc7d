"""Whole till flows: what a cashier does over a day, and what the customer's balance says."""

from __future__ import annotations

import re
from datetime import timedelta

from loyalty.common.clock import Clock
from tests.conftest import Tenant
from tests.support import payloads

PRODUCT_A = "a0000000-0000-4000-8000-00000000000a"
PRODUCT_B = "b0000000-0000-4000-8000-00000000000b"


def _sale_rows(tenant: Tenant) -> list[dict[str, object]]:
    return tenant.db.fetch(
        "SELECT moysklad_id, spent_points, earned_points FROM sale"
        " WHERE account_id = :a ORDER BY id",
        a=tenant.account_id,
    )


class TestTradingDay:
    def test_register_earn_spend_replay_and_return_in_parts(self, tenant: Tenant) -> None:
        customer = tenant.register(phone="+7 903 999-33-44", discountCardNumber="CARD-1")
        assert tenant.balance(customer) == 0

        # An EARNING receipt: 2 × 1000.00 earns 5 % = 100 points.
        first_sale, answer = tenant.buy(customer, [payloads.position(PRODUCT_A, 2, 1000)])
        assert answer["bonusProgram"]["bonusValueToEarn"] == 100
        assert answer["bonusProgram"]["agentBonusBalanceAfter"] == 100
        assert tenant.balance(customer) == 100

        # A SPENDING receipt of 350.00: cap is 175, balance 100, so 100 points pay; earn 5 % of 250.
        positions = [payloads.position(PRODUCT_A, 3, 100), payloads.position(PRODUCT_B, 1, 50)]
        answer = tenant.recalc(payloads.recalc(customer, positions, spending=True))
        bonus = answer["bonusProgram"]
        assert (
            bonus["agentBonusBalance"],
            bonus["bonusValueToSpend"],
            bonus["bonusValueToEarn"],
        ) == (100, 100, 12)
        assert bonus["paidByBonusPoints"] == 100 and bonus["agentBonusBalanceAfter"] == 12
        paid = sum(
            round(item["quantity"] * item["discountedPrice"] * 100) for item in answer["positions"]
        )
        assert paid == 35000 - 10000

        code = tenant.post(
            "/retaildemand/verify", {"retailStore": payloads.store(), "counterpartyId": customer}
        )
        assert code.status_code == 200 and re.fullmatch(r"\d{6}", code.json()["verificationCode"])

        second_sale = payloads.new_id()
        body = payloads.sale_from_recalc(second_sale, customer, answer)
        assert tenant.post("/retaildemand", body).status_code == 201
        assert tenant.balance(customer) == 12
        replay = tenant.post("/retaildemand", body)
        assert replay.status_code == 201 and replay.headers["Idempotency-Replayed"] == "true"
        assert tenant.balance(customer) == 12

        # Three partial returns of the second sale; the last one completes it.
        returns = [
            [payloads.position(PRODUCT_A, 1, 100, discounted_price=71.43)],
            [payloads.position(PRODUCT_A, 1, 100, discounted_price=71.43)],
            [
                payloads.position(PRODUCT_A, 1, 100, discounted_price=71.42),
                payloads.position(PRODUCT_B, 1, 50),
            ],
        ]
        refunded_total = reclaimed_total = 0
        for positions in returns:
            before = tenant.stored_balance(customer)
            response = tenant.post(
                "/retailsalesreturn",
                payloads.sales_return(payloads.new_id(), second_sale, positions),
            )
            assert response.status_code == 201, response.text
            row = tenant.db.fetch(
                "SELECT refunded_spent_points, reclaimed_earned_points FROM sales_return"
                " WHERE account_id = :a ORDER BY id DESC LIMIT 1",
                a=tenant.account_id,
            )[0]
            refunded_total += row["refunded_spent_points"]
            reclaimed_total += row["reclaimed_earned_points"]
            assert 0 <= refunded_total <= 100 and 0 <= reclaimed_total <= 12
            after = tenant.stored_balance(customer)
            assert after["available_points"] == (
                before["available_points"]
                + row["refunded_spent_points"]
                - row["reclaimed_earned_points"]
            )
        assert (refunded_total, reclaimed_total) == (100, 12)
        # Back to where the customer stood after the first sale, which is untouched.
        assert tenant.balance(customer) == 100
        assert _sale_rows(tenant)[0] == {
            "moysklad_id": first_sale,
            "spent_points": 0,
            "earned_points": 100,
        }

    def test_returning_more_than_was_sold_never_reverses_more_than_the_sale(
        self, tenant: Tenant
    ) -> None:
        customer = tenant.register()
        sale_id, _ = tenant.buy(customer, [payloads.position(PRODUCT_A, 2, 500)])
        assert tenant.balance(customer) == 50
        too_many = [payloads.position(PRODUCT_A, 5, 500)]
        for _ in range(2):
            response = tenant.post(
                "/retailsalesreturn", payloads.sales_return(payloads.new_id(), sale_id, too_many)
            )
            assert response.status_code == 201
        assert tenant.balance(customer) == 0
        reclaimed = tenant.db.scalar(
            "SELECT sum(reclaimed_earned_points) FROM sales_return WHERE account_id = :a",
            a=tenant.account_id,
        )
        assert reclaimed == 50


class TestWelcomeBonus:
    def test_credited_exactly_once_whatever_the_path(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=150)
        customer = tenant.register()
        tenant.register(customer, name="Иванов И. И.")
        tenant.register(customer, phone="+79990000001")
        assert tenant.balance(customer) == 150
        enrolled = payloads.new_id()
        assert tenant.balance(enrolled) == 150  # auto-enrolled at the balance request
        assert tenant.balance(enrolled) == 150
        welcome = tenant.db.scalar(
            "SELECT count(*) FROM ledger_transaction WHERE account_id = :a AND kind = 'welcome'",
            a=tenant.account_id,
        )
        assert welcome == 2

    def test_not_credited_to_a_customer_who_skipped_verification(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=150, verify_registration=True)
        skipped = tenant.register(statusCheck="IGNORE")
        checked = tenant.register(statusCheck="CHECKED")
        assert tenant.balance(skipped) == 0
        assert tenant.balance(checked) == 150


class TestActivationDelay:
    def test_earned_points_wait_then_become_spendable(self, tenant: Tenant, clock: Clock) -> None:
        tenant.set_program(activation_delay_days=14)
        customer = tenant.register()
        _, answer = tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 2000)])
        bonus = answer["bonusProgram"]
        assert bonus["bonusValueToEarn"] == 100
        assert bonus["agentBonusBalanceAfter"] == 0
        activation = (clock.now() + timedelta(days=14)).strftime("%d.%m.%Y")
        assert f"100 баллов за покупку станут доступны {activation}" in bonus["receiptExtraInfo"]
        assert tenant.balance(customer) == 0
        assert tenant.stored_balance(customer) == {
            "available_points": 0,
            "pending_points": 100,
            "debt_points": 0,
        }
        answer = tenant.recalc(
            payloads.recalc(customer, [payloads.position(PRODUCT_B, 1, 100)], spending=True)
        )
        assert answer["bonusProgram"]["bonusValueToSpend"] == 0
        assert "Ожидают начисления: 100 баллов" in answer["bonusProgram"]["receiptExtraInfo"]

        clock.advance(timedelta(days=14, seconds=1))
        assert tenant.balance(customer) == 100  # exact before anything is posted
        tenant.buy(customer, [payloads.position(PRODUCT_B, 1, 100)], spending=True)
        # The spend posted the activation first, then took 50 (the 50 % cap of 100.00);
        # the 2 points it earned on the 50.00 paid wait their 14 days.
        assert tenant.stored_balance(customer) == {
            "available_points": 50,
            "pending_points": 2,
            "debt_points": 0,
        }
        kinds = [
            row["kind"]
            for row in tenant.db.fetch(
                "SELECT kind FROM ledger_transaction WHERE account_id = :a ORDER BY id",
                a=tenant.account_id,
            )
        ]
        assert kinds == ["sale", "activation", "sale"]


class TestExpiry:
    def test_points_expire_and_cannot_be_spent_after(self, tenant: Tenant, clock: Clock) -> None:
        tenant.set_program(expiry_days=30)
        customer = tenant.register()
        tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 2000)])
        assert tenant.balance(customer) == 100
        clock.advance(timedelta(days=30, seconds=1))
        assert tenant.balance(customer) == 0
        spend = payloads.sale(
            payloads.new_id(),
            customer,
            [payloads.position(PRODUCT_B, 1, 200, discounted_price=150)],
            spend=50,
        )
        response = tenant.post("/retaildemand", spend)
        assert response.status_code == 412
        assert response.json()["errors"][0]["code"] == 41201
        # The refused sale left nothing behind; a later write posts the expiry.
        assert (
            tenant.db.scalar("SELECT count(*) FROM sale WHERE account_id = :a", a=tenant.account_id)
            == 1
        )
        tenant.buy(customer, [payloads.position(PRODUCT_B, 1, 200)])
        expired = tenant.db.scalar(
            "SELECT sum(amount_points) FROM ledger_entry"
            " WHERE account_id = :a AND bucket = 'expired'",
            a=tenant.account_id,
        )
        assert expired == 100
        assert tenant.balance(customer) == 10

    def test_spending_takes_the_soonest_expiring_points_first(
        self, tenant: Tenant, clock: Clock
    ) -> None:
        tenant.set_program(expiry_days=30, max_spend_percent=100)
        customer = tenant.register()
        tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 2000)])  # 100 points, expire day 30
        clock.advance(timedelta(days=10))
        tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 2000)])  # 100 points, expire day 40
        clock.advance(timedelta(days=5))
        tenant.buy(customer, [payloads.position(PRODUCT_B, 1, 60)], spending=True, preferred=60)
        assert tenant.balance(customer) == 140
        clock.advance(timedelta(days=15, seconds=1))  # day 30: the first lot's remaining 40 expire
        assert tenant.balance(customer) == 100
        clock.advance(timedelta(days=10))  # day 40: the second lot expires too
        assert tenant.balance(customer) == 0


class TestDebt:
    def test_points_already_spent_become_debt_that_later_earnings_repay(
        self, tenant: Tenant
    ) -> None:
        tenant.set_program(earn_on_spend=False, max_spend_percent=100)
        customer = tenant.register()
        first_sale, _ = tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 2000)])
        second_sale, answer = tenant.buy(
            customer, [payloads.position(PRODUCT_B, 1, 100)], spending=True
        )
        assert answer["bonusProgram"]["bonusValueToSpend"] == 100
        assert tenant.balance(customer) == 0

        full_return = payloads.sales_return(
            payloads.new_id(), first_sale, [payloads.position(PRODUCT_A, 1, 2000)]
        )
        assert tenant.post("/retailsalesreturn", full_return).status_code == 201
        assert tenant.balance(customer) == 0
        assert tenant.stored_balance(customer) == {
            "available_points": 0,
            "pending_points": 0,
            "debt_points": 100,
        }
        answer = tenant.recalc(payloads.recalc(customer, [payloads.position(PRODUCT_A, 1, 800)]))
        assert "Задолженность по баллам: 100 баллов" in answer["bonusProgram"]["receiptExtraInfo"]
        assert answer["bonusProgram"]["agentBonusBalanceAfter"] == 0

        tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 800)])  # earns 40, all to the debt
        assert tenant.stored_balance(customer) == {
            "available_points": 0,
            "pending_points": 0,
            "debt_points": 60,
        }

        refund = payloads.sales_return(
            payloads.new_id(),
            second_sale,
            [payloads.position(PRODUCT_B, 1, 100, discounted_price=0)],
        )
        assert tenant.post("/retailsalesreturn", refund).status_code == 201
        assert tenant.stored_balance(customer) == {
            "available_points": 40,
            "pending_points": 0,
            "debt_points": 0,
        }


class TestReturnsAfterExpiry:
    def test_earned_points_that_expired_are_not_taken_back_twice(
        self, tenant: Tenant, clock: Clock
    ) -> None:
        tenant.set_program(expiry_days=30)
        customer = tenant.register()
        sale_id, _ = tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 2000)])  # 100 points
        clock.advance(timedelta(days=31))
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT_A, 1, 2000)]
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert tenant.stored_balance(customer) == {
            "available_points": 0,
            "pending_points": 0,
            "debt_points": 0,
        }
        row = tenant.db.fetch(
            "SELECT reclaimed_earned_points, forgiven_expired_points, debt_points FROM sales_return"
            " WHERE account_id = :a",
            a=tenant.account_id,
        )
        assert row == [
            {"reclaimed_earned_points": 100, "forgiven_expired_points": 100, "debt_points": 0}
        ]

    def test_spent_points_whose_life_is_over_are_refunded_as_expired(
        self, tenant: Tenant, clock: Clock
    ) -> None:
        tenant.set_program(expiry_days=30, earn_on_spend=False, max_spend_percent=100)
        customer = tenant.register()
        tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 2000)])  # 100 points, expire day 30
        sale_id, _ = tenant.buy(customer, [payloads.position(PRODUCT_B, 1, 100)], spending=True)
        clock.advance(timedelta(days=31))
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT_B, 1, 100, discounted_price=0)]
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert tenant.balance(customer) == 0
        expired = tenant.db.scalar(
            "SELECT sum(amount_points) FROM ledger_entry"
            " WHERE account_id = :a AND bucket = 'expired'",
            a=tenant.account_id,
        )
        assert expired == 100
