"""POST /retaildemand/recalc: exact pricing, caps, echo, and no side effects."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Tenant
from tests.support import payloads

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"


def paid_kopecks(answer: dict[str, Any]) -> int:
    return sum(
        int(
            (Decimal(str(item["quantity"])) * Decimal(str(item["discountedPrice"])) * 100).quantize(
                Decimal(1), "ROUND_HALF_UP"
            )
        )
        for item in answer["positions"]
    )


def counts(tenant: Tenant) -> tuple[int, ...]:
    row = tenant.db.fetch(
        "SELECT (SELECT count(*) FROM customer WHERE account_id = :a) AS customers,"
        " (SELECT count(*) FROM ledger_transaction WHERE account_id = :a) AS transactions,"
        " (SELECT count(*) FROM sale WHERE account_id = :a) AS sales",
        a=tenant.account_id,
    )[0]
    return tuple(row.values())


@pytest.fixture
def rich_customer(tenant: Tenant) -> str:
    tenant.set_program(welcome_bonus_points=1000)
    return tenant.register()


class TestSpending:
    def test_no_preference_spends_the_maximum_within_the_cap(
        self, tenant: Tenant, rich_customer: str
    ) -> None:
        answer = tenant.recalc(
            payloads.recalc(rich_customer, [payloads.position(PRODUCT, 3, 333.33)], spending=True)
        )
        bonus = answer["bonusProgram"]
        # 50 % of 999.99 is 499.995 → 499 whole points.
        assert bonus["bonusValueToSpend"] == 499 and bonus["paidByBonusPoints"] == 499
        assert paid_kopecks(answer) == 99999 - 49900
        assert bonus["bonusValueToEarn"] == 25  # 5 % of 500.99
        assert bonus["agentBonusBalanceAfter"] == 1000 - 499 + 25

    @pytest.mark.parametrize("in_bonus_program", [False, True])
    def test_preference_is_read_at_the_top_level_or_in_bonus_program(
        self, tenant: Tenant, rich_customer: str, in_bonus_program: bool
    ) -> None:
        body = payloads.recalc(
            rich_customer,
            [payloads.position(PRODUCT, 1, 1000)],
            spending=True,
            preferred=120.7,
            preferred_in_bonus_program=in_bonus_program,
        )
        assert tenant.recalc(body)["bonusProgram"]["bonusValueToSpend"] == 120

    def test_preference_above_the_balance_or_cap_is_cut(self, tenant: Tenant) -> None:
        customer = tenant.register()
        tenant.set_program(welcome_bonus_points=0)
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 600)])  # 30 points
        answer = tenant.recalc(
            payloads.recalc(
                customer, [payloads.position(PRODUCT, 1, 1000)], spending=True, preferred=5000
            )
        )
        assert answer["bonusProgram"]["bonusValueToSpend"] == 30
        answer = tenant.recalc(
            payloads.recalc(
                customer, [payloads.position(PRODUCT, 1, 10)], spending=True, preferred=5000
            )
        )
        assert answer["bonusProgram"]["bonusValueToSpend"] == 5

    def test_zero_preference_spends_nothing(self, tenant: Tenant, rich_customer: str) -> None:
        answer = tenant.recalc(
            payloads.recalc(
                rich_customer, [payloads.position(PRODUCT, 1, 100)], spending=True, preferred=0
            )
        )
        assert answer["bonusProgram"]["bonusValueToSpend"] == 0
        assert answer["positions"][0]["discountedPrice"] == 100

    def test_no_earning_while_spending_when_the_program_says_so(
        self, tenant: Tenant, rich_customer: str
    ) -> None:
        tenant.set_program(earn_on_spend=False)
        answer = tenant.recalc(
            payloads.recalc(rich_customer, [payloads.position(PRODUCT, 1, 1000)], spending=True)
        )
        assert answer["bonusProgram"]["bonusValueToEarn"] == 0
        answer = tenant.recalc(
            payloads.recalc(
                rich_customer, [payloads.position(PRODUCT, 1, 1000)], spending=True, preferred=0
            )
        )
        assert answer["bonusProgram"]["bonusValueToEarn"] == 50

    def test_verification_is_asked_above_the_threshold(
        self, tenant: Tenant, rich_customer: str
    ) -> None:
        tenant.set_program(verify_spend_above_points=100)
        small = payloads.recalc(
            rich_customer, [payloads.position(PRODUCT, 1, 1000)], spending=True, preferred=100
        )
        large = payloads.recalc(
            rich_customer, [payloads.position(PRODUCT, 1, 1000)], spending=True, preferred=101
        )
        assert tenant.recalc(small)["needVerification"] is False
        assert tenant.recalc(large)["needVerification"] is True


class TestPositions:
    def test_split_conserves_serial_numbers_pack_and_order(
        self, tenant: Tenant, rich_customer: str
    ) -> None:
        pack = {
            "id": "98f87a95-c0b6-11ee-0a80-06e1000360e2",
            "name": "Коробка",
            "quantity": 1,
            "barcode": "200",
        }
        positions = [
            payloads.position(
                "11111111-1111-4111-8111-111111111111", 3, 100, sn=["A1", "A2", "A3"], pack=pack
            ),
            payloads.position("22222222-2222-4222-8222-222222222222", 1, 0.03),
        ]
        answer = tenant.recalc(
            payloads.recalc(rich_customer, positions, spending=True, preferred=1)
        )
        lines = answer["positions"]
        assert paid_kopecks(answer) == 30003 - 100
        first_product = [line for line in lines if line["assortment"] == positions[0]["assortment"]]
        assert sum(line["quantity"] for line in first_product) == 3
        serials = [serial["name"] for line in first_product for serial in line["sn"]]
        assert serials == ["A1", "A2", "A3"]
        assert all(len(line["sn"]) == line["quantity"] for line in first_product)
        assert all(line["pack"] == pack for line in first_product)
        assert [line["assortment"] for line in lines][-1] == positions[1]["assortment"]
        for line in lines:
            assert (
                0 <= line["discountPercent"] <= 100
                and 0 <= line["discountedPrice"] <= line["price"]
            )

    def test_earning_receipt_is_unchanged(self, tenant: Tenant) -> None:
        customer = tenant.register()
        positions = [payloads.position(PRODUCT, 1.5, 99.99), payloads.position(PRODUCT, 2, 10)]
        answer = tenant.recalc(payloads.recalc(customer, positions))
        assert [
            (line["quantity"], line["discountedPrice"], line["discountPercent"])
            for line in answer["positions"]
        ] == [
            (1.5, 99.99, 0),
            (2, 10, 0),
        ]


class TestCustomerResolution:
    def test_no_agent_means_no_loyalty(self, tenant: Tenant) -> None:
        answer = tenant.recalc(
            payloads.recalc(None, [payloads.position(PRODUCT, 1, 100)], spending=True)
        )
        bonus = answer["bonusProgram"]
        assert (
            bonus["bonusValueToSpend"],
            bonus["bonusValueToEarn"],
            bonus["agentBonusBalance"],
        ) == (0, 0, 0)
        assert "agent" not in answer

    def test_unknown_agent_is_404_without_auto_enrol(self, tenant: Tenant) -> None:
        tenant.set_program(auto_enroll=False)
        response = tenant.post(
            "/retaildemand/recalc", payloads.recalc(payloads.new_id(), [payloads.position()])
        )
        assert response.status_code == 404
        assert response.json()["errors"][0]["parameter"] == "agent.meta.id"

    def test_unknown_agent_is_priced_as_a_new_member_without_being_created(
        self, tenant: Tenant
    ) -> None:
        before = counts(tenant)
        answer = tenant.recalc(
            payloads.recalc(payloads.new_id(), [payloads.position(PRODUCT, 1, 1000)], spending=True)
        )
        assert answer["bonusProgram"]["bonusValueToEarn"] == 50
        assert answer["bonusProgram"]["bonusValueToSpend"] == 0
        assert counts(tenant) == before


class TestReadOnly:
    def test_recalc_changes_nothing_and_repeats_identically(
        self, tenant: Tenant, rich_customer: str
    ) -> None:
        body = payloads.recalc(rich_customer, [payloads.position(PRODUCT, 7, 13.13)], spending=True)
        before = counts(tenant)
        first = tenant.post("/retaildemand/recalc", body)
        second = tenant.post("/retaildemand/recalc", body)
        assert first.content == second.content
        assert counts(tenant) == before
        assert tenant.balance(rich_customer) == 1000


class TestReceiptText:
    def test_template_placeholders_are_filled(self, tenant: Tenant, rich_customer: str) -> None:
        tenant.set_program(
            receipt_text=(
                "Было {balance}, списано {spent}, начислено {earned}, стало {balance_after}"
            )
        )
        answer = tenant.recalc(
            payloads.recalc(rich_customer, [payloads.position(PRODUCT, 1, 100)], spending=True)
        )
        assert (
            answer["bonusProgram"]["receiptExtraInfo"]
            == "Было 1000, списано 50, начислено 2, стало 952"
        )
