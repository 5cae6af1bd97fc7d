"""POST /retailsalesreturn: linked, unlinked, repeated and partial returns."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant
from tests.support import payloads

PRODUCT_A = "a0000000-0000-4000-8000-00000000000a"
PRODUCT_B = "b0000000-0000-4000-8000-00000000000b"


def last_return(tenant: Tenant) -> dict[str, object]:
    return tenant.db.fetch(
        "SELECT sale_id IS NOT NULL AS linked, customer_id IS NOT NULL AS with_customer,"
        " returned_minor,"
        " refunded_spent_points, reclaimed_earned_points, debt_points FROM sales_return"
        " WHERE account_id = :a ORDER BY id DESC LIMIT 1",
        a=tenant.account_id,
    )[0]


class TestLinkedReturns:
    def test_idempotent_by_document_id(self, tenant: Tenant) -> None:
        customer = tenant.register()
        sale_id, _ = tenant.buy(customer, [payloads.position(PRODUCT_A, 4, 250)])
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT_A, 1, 250)]
        )
        for _ in range(3):
            assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert tenant.balance(customer) == 50 - 13
        changed = body | {"positions": [payloads.position(PRODUCT_A, 2, 250)]}
        conflict = tenant.post("/retailsalesreturn", changed)
        assert conflict.status_code == 409
        assert tenant.balance(customer) == 37

    def test_lines_are_matched_by_product_not_by_what_the_return_claims_to_cost(
        self, tenant: Tenant
    ) -> None:
        customer = tenant.register()
        sale_id, _ = tenant.buy(
            customer, [payloads.position(PRODUCT_A, 1, 1000), payloads.position(PRODUCT_B, 1, 100)]
        )
        assert tenant.balance(customer) == 55
        claim = [payloads.position(PRODUCT_B, 1, 1000)]  # B sold at 100.00, "returned" at 1000.00
        assert (
            tenant.post(
                "/retailsalesreturn", payloads.sales_return(payloads.new_id(), sale_id, claim)
            ).status_code
            == 201
        )
        row = last_return(tenant)
        assert row["reclaimed_earned_points"] == 5 and row["returned_minor"] == 10000
        assert tenant.balance(customer) == 50

    def test_a_product_that_was_not_sold_reverses_nothing(self, tenant: Tenant) -> None:
        customer = tenant.register()
        sale_id, _ = tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 1000)])
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT_B, 1, 1000)]
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert last_return(tenant)["reclaimed_earned_points"] == 0
        assert tenant.balance(customer) == 50

    def test_the_sales_customer_is_used_whatever_agent_the_return_names(
        self, tenant: Tenant
    ) -> None:
        buyer = tenant.register()
        stranger = tenant.register()
        tenant.set_program(welcome_bonus_points=0)
        sale_id, _ = tenant.buy(buyer, [payloads.position(PRODUCT_A, 1, 1000)])
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT_A, 1, 1000)], ms_id=stranger
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert (tenant.balance(buyer), tenant.balance(stranger)) == (0, 0)

    def test_returning_an_anonymous_sale_touches_no_points(self, tenant: Tenant) -> None:
        sale_id = payloads.new_id()
        tenant.post(
            "/retaildemand", payloads.sale(sale_id, None, [payloads.position(PRODUCT_A, 1, 1000)])
        )
        customer = tenant.register()
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT_A, 1, 1000)], ms_id=customer
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        row = last_return(tenant)
        assert row["linked"] is True and row["with_customer"] is False


class TestUnlinkedReturns:
    @pytest.mark.parametrize("agent_style", ["flat", "meta"])
    def test_known_customer_loses_points_at_the_earn_rate(
        self, tenant: Tenant, agent_style: str
    ) -> None:
        tenant.set_program(welcome_bonus_points=100)
        customer = tenant.register()
        body = payloads.sales_return(
            payloads.new_id(),
            None,
            [payloads.position(PRODUCT_A, 3, 333.33, discounted_price=300)],
            ms_id=customer,
            agent_style=agent_style,
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert tenant.balance(customer) == 100 - 45  # floor(5 % of 900.00)
        assert last_return(tenant)["linked"] is False

    def test_without_a_customer_it_is_only_recorded(self, tenant: Tenant) -> None:
        body = payloads.sales_return(payloads.new_id(), None, [payloads.position(PRODUCT_A, 1, 10)])
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        row = last_return(tenant)
        assert (row["linked"], row["with_customer"], row["returned_minor"]) == (False, False, 1000)

    def test_a_sale_we_never_saw_is_treated_as_unlinked(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=100)
        customer = tenant.register()
        body = payloads.sales_return(
            payloads.new_id(),
            payloads.new_id(),
            [payloads.position(PRODUCT_A, 1, 200)],
            ms_id=customer,
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert tenant.balance(customer) == 90

    def test_the_shortfall_becomes_debt_not_a_negative_balance(self, tenant: Tenant) -> None:
        customer = tenant.register()
        body = payloads.sales_return(
            payloads.new_id(), None, [payloads.position(PRODUCT_A, 1, 2000)], ms_id=customer
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert tenant.stored_balance(customer) == {
            "available_points": 0,
            "pending_points": 0,
            "debt_points": 100,
        }
        assert last_return(tenant)["debt_points"] == 100


class TestReturnUnits:
    def test_no_cash_sum_in_kopecks_is_stored_as_sent(self, tenant: Tenant) -> None:
        body = payloads.sales_return(
            payloads.new_id(),
            None,
            [payloads.position(PRODUCT_A, 1, 2831)],
            cashSum=0,
            noCashSum=283100.0,
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        stored = tenant.db.fetch(
            "SELECT no_cash_sum FROM sales_return WHERE account_id = :a", a=tenant.account_id
        )
        assert stored == [{"no_cash_sum": 283100}]
