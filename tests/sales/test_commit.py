"""POST /retaildemand: idempotent commits, rules checked at commit time, nothing half-written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Tenant
from tests.support import payloads

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"


def ledger_size(tenant: Tenant) -> tuple[int, int, int]:
    row = tenant.db.fetch(
        "SELECT (SELECT count(*) FROM ledger_transaction WHERE account_id = :a) AS t,"
        " (SELECT count(*) FROM ledger_entry WHERE account_id = :a) AS e,"
        " (SELECT count(*) FROM sale WHERE account_id = :a) AS s",
        a=tenant.account_id,
    )[0]
    return row["t"], row["e"], row["s"]


def error_of(response: Any) -> dict[str, Any]:
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors[0]


@pytest.fixture
def customer(tenant: Tenant) -> str:
    tenant.set_program(welcome_bonus_points=100)
    return tenant.register()


class TestIdempotency:
    def test_replay_changes_nothing(self, tenant: Tenant, customer: str) -> None:
        body = payloads.sale(
            payloads.new_id(),
            customer,
            [payloads.position(PRODUCT, 1, 200, discounted_price=150)],
            spend=50,
        )
        assert tenant.post("/retaildemand", body).status_code == 201
        size = ledger_size(tenant)
        for _ in range(3):
            again = tenant.post("/retaildemand", body)
            assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
        assert ledger_size(tenant) == size
        assert tenant.balance(customer) == 100 - 50 + 7

    def test_same_id_with_different_content_is_409_and_changes_nothing(
        self, tenant: Tenant, customer: str
    ) -> None:
        sale_id = payloads.new_id()
        tenant.post(
            "/retaildemand", payloads.sale(sale_id, customer, [payloads.position(PRODUCT, 1, 200)])
        )
        size = ledger_size(tenant)
        response = tenant.post(
            "/retaildemand", payloads.sale(sale_id, customer, [payloads.position(PRODUCT, 2, 200)])
        )
        assert response.status_code == 409
        assert error_of(response)["parameter"] == "meta.id"
        assert ledger_size(tenant) == size

    def test_key_order_and_number_format_do_not_change_identity(
        self, tenant: Tenant, customer: str
    ) -> None:
        sale_id = payloads.new_id()
        body = payloads.sale(sale_id, customer, [payloads.position(PRODUCT, 1, 200)])
        assert tenant.post("/retaildemand", body).status_code == 201
        rest = json.dumps({key: value for key, value in body.items() if key != "positions"})
        assortment = json.dumps(body["positions"][0]["assortment"])
        position = f'{{"price":200.00,"quantity":1.000,"assortment":{assortment}}}'
        text = f'{{"positions":[{position}],{rest[1:]}'

        again = tenant.client.post(
            "/retaildemand", content=text, headers={"Content-Type": "application/json"}
        )
        assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"

    def test_empty_meta_falls_back_to_store_number_and_moment(
        self, tenant: Tenant, customer: str
    ) -> None:
        first = payloads.sale(None, customer, [payloads.position(PRODUCT, 1, 200)], name="A-1")
        second = payloads.sale(None, customer, [payloads.position(PRODUCT, 1, 200)], name="A-2")
        for body in (first, first, second):
            assert tenant.post("/retaildemand", body).status_code == 201
        assert ledger_size(tenant)[2] == 2
        assert tenant.balance(customer) == 100 + 10 + 10

    def test_same_sale_id_in_two_accounts_is_two_sales(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        sale_id = payloads.new_id()
        for merchant in (tenant, other_tenant):
            ms_id = merchant.register()
            assert (
                merchant.post(
                    "/retaildemand",
                    payloads.sale(sale_id, ms_id, [payloads.position(PRODUCT, 1, 200)]),
                ).status_code
                == 201
            )
            assert merchant.balance(ms_id) == 10


class TestRulesAtCommit:
    def test_spending_more_than_the_balance_is_refused_and_leaves_nothing(
        self, tenant: Tenant, customer: str
    ) -> None:
        sale_id = payloads.new_id()
        body = payloads.sale(
            sale_id,
            customer,
            [payloads.position(PRODUCT, 1, 1000, discounted_price=850)],
            spend=150,
        )
        size = ledger_size(tenant)
        response = tenant.post("/retaildemand", body)
        assert response.status_code == 412
        error = error_of(response)
        assert error["code"] == 41201 and error["parameter"] == "bonusProgram.bonusValueToSpend"
        assert "доступно 100" in error["error_message"]
        assert ledger_size(tenant) == size
        # Nothing was memorised: once the balance allows it, the same document goes through.
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
        assert tenant.post("/retaildemand", body).status_code == 201

    def test_spending_above_the_program_cap_is_refused(self, tenant: Tenant, customer: str) -> None:
        body = payloads.sale(
            payloads.new_id(),
            customer,
            [payloads.position(PRODUCT, 1, 100, discounted_price=40)],
            spend=60,
        )
        response = tenant.post("/retaildemand", body)
        assert response.status_code == 412 and error_of(response)["code"] == 41202

    def test_spending_that_the_receipt_does_not_show_is_refused(
        self, tenant: Tenant, customer: str
    ) -> None:
        body = payloads.sale(
            payloads.new_id(), customer, [payloads.position(PRODUCT, 1, 200)], spend=50
        )
        response = tenant.post("/retaildemand", body)
        assert response.status_code == 412 and error_of(response)["code"] == 41204

    def test_spending_without_a_customer_is_refused(self, tenant: Tenant) -> None:
        body = payloads.sale(
            payloads.new_id(),
            None,
            [payloads.position(PRODUCT, 1, 200, discounted_price=150)],
            spend=50,
        )
        response = tenant.post("/retaildemand", body)
        assert response.status_code == 412 and error_of(response)["code"] == 41203

    def test_fractional_spend_is_refused(self, tenant: Tenant, customer: str) -> None:
        body = payloads.sale(
            payloads.new_id(),
            customer,
            [payloads.position(PRODUCT, 1, 200, discounted_price=150)],
            spend=49.5,
        )
        response = tenant.post("/retaildemand", body)
        assert (
            response.status_code == 412
            and error_of(response)["parameter"] == "bonusProgram.bonusValueToSpend"
        )

    def test_discounted_price_above_price_names_the_position(
        self, tenant: Tenant, customer: str
    ) -> None:
        positions = [
            payloads.position(PRODUCT, 1, 200),
            payloads.position(PRODUCT, 1, 100, discounted_price=101),
        ]
        response = tenant.post(
            "/retaildemand", payloads.sale(payloads.new_id(), customer, positions)
        )
        assert (
            response.status_code == 412
            and error_of(response)["parameter"] == "positions[1].discountedPrice"
        )

    def test_earning_is_recomputed_from_the_committed_positions(
        self, tenant: Tenant, customer: str
    ) -> None:
        body = payloads.sale(
            payloads.new_id(), customer, [payloads.position(PRODUCT, 1, 200)], earn=9999
        )
        assert tenant.post("/retaildemand", body).status_code == 201
        assert tenant.balance(customer) == 110

    def test_anonymous_sale_is_recorded_without_points(self, tenant: Tenant) -> None:
        body = payloads.sale(payloads.new_id(), None, [payloads.position(PRODUCT, 1, 200)])
        assert tenant.post("/retaildemand", body).status_code == 201
        assert ledger_size(tenant) == (0, 0, 1)

    def test_unknown_agent_is_enrolled_at_commit(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=20)
        ms_id = payloads.new_id()
        body = payloads.sale(payloads.new_id(), ms_id, [payloads.position(PRODUCT, 1, 200)])
        assert tenant.post("/retaildemand", body).status_code == 201
        assert tenant.balance(ms_id) == 30

    def test_unknown_agent_without_auto_enrol_still_records_the_sale(self, tenant: Tenant) -> None:
        tenant.set_program(auto_enroll=False)
        body = payloads.sale(
            payloads.new_id(), payloads.new_id(), [payloads.position(PRODUCT, 1, 200)]
        )
        assert tenant.post("/retaildemand", body).status_code == 201
        assert ledger_size(tenant) == (0, 0, 1)

    def test_payment_with_an_unknown_certificate_refuses_the_whole_sale(
        self, tenant: Tenant, customer: str
    ) -> None:
        body = payloads.sale(
            payloads.new_id(),
            customer,
            [payloads.position(PRODUCT, 1, 200)],
            giftCards=[{"id": payloads.new_id(), "name": "123456", "paymentSum": 10000}],
        )
        response = tenant.post("/retaildemand", body)
        assert response.status_code == 412
        assert error_of(response)["parameter"] == "giftCards[0].id"
        assert "123456" in error_of(response)["error_message"]
        assert ledger_size(tenant)[2] == 0

    def test_lines_keep_each_positions_share_of_points(self, tenant: Tenant, customer: str) -> None:
        _, answer = tenant.buy(
            customer,
            [payloads.position(PRODUCT, 2, 300), payloads.position(PRODUCT, 1, 400)],
            spending=True,
        )
        spent, earned = (
            answer["bonusProgram"]["bonusValueToSpend"],
            answer["bonusProgram"]["bonusValueToEarn"],
        )
        lines = tenant.db.fetch(
            "SELECT spent_points, earned_points, paid_minor FROM sale_line WHERE account_id = :a",
            a=tenant.account_id,
        )
        assert sum(line["spent_points"] for line in lines) == spent == 100
        assert sum(line["earned_points"] for line in lines) == earned == 45
