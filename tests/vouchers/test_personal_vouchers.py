"""Personal vouchers at the MoySklad till: recalc applies the best one, the commit uses it once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from loyalty.common.clock import Clock
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.vouchers import Operator

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"
OTHER_PRODUCT = "5b2c1f0e-0000-4000-8000-000000000002"


def receipt(price: Any = 1000, quantity: Any = 1) -> list[dict[str, Any]]:
    return [payloads.position(PRODUCT, quantity, price)]


def paid_roubles(answer: dict[str, Any]) -> Decimal:
    return sum(
        (
            (Decimal(str(item["quantity"])) * Decimal(str(item["discountedPrice"]))).quantize(
                Decimal("0.01")
            )
            for item in answer["positions"]
        ),
        Decimal(0),
    )


def commit(tenant: Tenant, customer: str, answer: dict[str, Any]) -> httpx.Response:
    return tenant.post(
        "/retaildemand", payloads.sale_from_recalc(payloads.new_id(), customer, answer)
    )


def error_code(response: httpx.Response) -> int:
    code: int = response.json()["errors"][0]["code"]
    return code


class TestRecalc:
    def test_the_best_voucher_is_applied_and_named_on_the_receipt(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        operator.personal(customer, discountPercent=5, name="Пять процентов")
        operator.personal(customer, discountPercent=10, name="Десять процентов")
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        assert paid_roubles(answer) == Decimal(900)
        bonus = answer["bonusProgram"]
        assert bonus["paidByBonusPoints"] == 0 and bonus["bonusValueToEarn"] == 45
        assert "Купон «Десять процентов» № 2: скидка 100.00 руб." in bonus["receiptExtraInfo"]

    def test_points_stack_on_what_is_left_after_the_voucher(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        tenant.set_program(welcome_bonus_points=1000)
        customer = tenant.register()
        operator.personal(customer, discountPercent=20)
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000), spending=True))
        # 200 off by voucher, then points up to 50 % of the remaining 800.
        assert answer["bonusProgram"]["bonusValueToSpend"] == 400
        assert answer["bonusProgram"]["paidByBonusPoints"] == 400
        assert paid_roubles(answer) == Decimal(400)

    def test_exclusive_stacking_spends_no_points_with_a_voucher(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        tenant.set_program(welcome_bonus_points=1000, voucher_stacking="exclusive")
        customer = tenant.register()
        operator.personal(customer, discountPercent=20)
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000), spending=True))
        assert answer["bonusProgram"]["bonusValueToSpend"] == 0
        assert paid_roubles(answer) == Decimal(800)
        response = commit(tenant, customer, answer)
        assert response.status_code == 201, response.text

    def test_minimum_spend_share_cap_and_expiry_are_respected(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        customer = tenant.register()
        operator.personal(customer, discountPercent=50, minSpendMinor=200_000)
        operator.personal(
            customer, type="CASH", faceValueMinor=90_000, maxUsePercent=30, name="Наличные"
        )
        operator.personal(customer, discountPercent=90, expiry={"type": "DYNAMIC", "days": 1})
        clock.advance(timedelta(days=2))
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        # 50 % needs 2000 roubles; 90 % expired; the cash voucher is capped at 30 % of 1000.
        assert paid_roubles(answer) == Decimal(700)
        assert "Наличные" in answer["bonusProgram"]["receiptExtraInfo"]

    def test_the_setting_turns_personal_vouchers_off(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        tenant.set_program(apply_personal_vouchers=False)
        customer = tenant.register()
        operator.personal(customer)
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        assert paid_roubles(answer) == Decimal(1000)

    def test_another_customers_voucher_is_not_applied(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        owner, stranger = tenant.register(), tenant.register()
        operator.personal(owner)
        answer = tenant.recalc(payloads.recalc(stranger, receipt(1000)))
        assert paid_roubles(answer) == Decimal(1000)


class TestCommit:
    def test_the_commit_uses_the_voucher_once_even_when_replayed(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        [voucher] = operator.personal(customer)
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        body = payloads.sale_from_recalc(payloads.new_id(), customer, answer)
        assert tenant.post("/retaildemand", body).status_code == 201
        assert tenant.post("/retaildemand", body).headers["Idempotency-Replayed"] == "true"
        after = operator.voucher(voucher["id"])
        assert (after["status"], after["usedCount"]) == ("REDEEMED", 1)
        assert tenant.balance(customer) == 45
        again = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        assert paid_roubles(again) == Decimal(1000)

    def test_a_voucher_used_at_another_till_meanwhile_asks_for_a_recalc(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        operator.personal(customer)
        first_till = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        second_till = tenant.recalc(payloads.recalc(customer, receipt(500)))
        assert commit(tenant, customer, first_till).status_code == 201
        refused = commit(tenant, customer, second_till)
        assert refused.status_code == 412 and error_code(refused) == 41266
        assert "Пересчитайте чек" in refused.json()["errors"][0]["error_message"]
        assert (
            tenant.db.scalar("SELECT count(*) FROM sale WHERE account_id = :a", a=tenant.account_id)
            == 1
        )
        recalculated = tenant.recalc(payloads.recalc(customer, receipt(500)))
        assert commit(tenant, customer, recalculated).status_code == 201

    def test_a_better_voucher_issued_after_the_recalc_asks_for_a_recalc(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        operator.personal(customer, discountPercent=10)
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        operator.personal(customer, discountPercent=30)
        refused = commit(tenant, customer, answer)
        assert refused.status_code == 412 and error_code(refused) == 41267

    def test_a_receipt_priced_without_the_voucher_leaves_it_unused(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        [voucher] = operator.personal(customer)
        assert commit(tenant, customer, answer).status_code == 201
        assert operator.voucher(voucher["id"])["usedCount"] == 0

    def test_points_and_voucher_together_are_checked_against_the_receipt(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        tenant.set_program(welcome_bonus_points=1000)
        customer = tenant.register()
        [voucher] = operator.personal(customer, discountPercent=20)
        answer = tenant.recalc(payloads.recalc(customer, receipt(1000), spending=True))
        assert commit(tenant, customer, answer).status_code == 201
        assert tenant.balance(customer) == 1000 - 400 + 20
        assert operator.voucher(voucher["id"])["usedCount"] == 1

    def test_a_multi_use_voucher_is_used_once_per_sale(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        [voucher] = operator.personal(customer, usesPerVoucher=2)
        for _ in range(2):
            answer = tenant.recalc(payloads.recalc(customer, receipt(1000)))
            assert paid_roubles(answer) == Decimal(900)
            assert commit(tenant, customer, answer).status_code == 201
        after = operator.voucher(voucher["id"])
        assert (after["usedCount"], after["status"]) == (2, "REDEEMED")

    def test_a_per_customer_limit_stops_a_second_voucher_of_the_batch(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        operator.personal(customer, count=2, perCustomerLimit=1)
        first = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        assert commit(tenant, customer, first).status_code == 201
        second = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        assert paid_roubles(second) == Decimal(1000)


class TestReturns:
    def test_a_full_return_gives_the_use_back_and_a_partial_one_does_not(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        [voucher] = operator.personal(customer)
        positions = [payloads.position(PRODUCT, 2, 300), payloads.position(OTHER_PRODUCT, 1, 400)]
        answer = tenant.recalc(payloads.recalc(customer, positions))
        sale_id = payloads.new_id()
        body = payloads.sale_from_recalc(sale_id, customer, answer)
        assert tenant.post("/retaildemand", body).status_code == 201
        partial = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT, 1, 300)], ms_id=customer
        )
        assert tenant.post("/retailsalesreturn", partial).status_code == 201
        assert operator.voucher(voucher["id"])["status"] == "REDEEMED"
        rest = payloads.sales_return(
            payloads.new_id(),
            sale_id,
            [payloads.position(PRODUCT, 1, 300), payloads.position(OTHER_PRODUCT, 1, 400)],
            ms_id=customer,
        )
        assert tenant.post("/retailsalesreturn", rest).status_code == 201
        after = operator.voucher(voucher["id"])
        assert (after["status"], after["usedCount"]) == ("ISSUED", 0)
        assert tenant.post("/retailsalesreturn", rest).status_code == 201
        assert operator.voucher(voucher["id"])["usedCount"] == 0
        again = tenant.recalc(payloads.recalc(customer, receipt(1000)))
        assert paid_roubles(again) == Decimal(900)
