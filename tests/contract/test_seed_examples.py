"""The MoySklad document's own examples, posted as they are, answered in its shapes."""

from __future__ import annotations

import copy
import re

from tests.conftest import Tenant
from tests.contract import seed_examples as seed

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class TestCustomerExamples:
    def test_create_answers_201_with_an_empty_body(self, tenant: Tenant) -> None:
        response = tenant.post("/counterparty", seed.COUNTERPARTY_CREATE)
        assert response.status_code == 201
        assert response.content == b""

    def test_search_rows_have_the_documented_fields_and_a_uuid_id(self, tenant: Tenant) -> None:
        tenant.post("/counterparty", seed.COUNTERPARTY_CREATE)
        response = tenant.client.get(
            "/counterparty",
            params={"search": "+7 555 123 4568", "retailStoreId": seed.STORE["meta"]["id"]},
        )
        assert response.status_code == 200
        rows = response.json()["rows"]
        assert len(rows) == 1
        row = rows[0]
        assert set(row) <= set(seed.SEARCH_RESPONSE["rows"][0])
        assert UUID_PATTERN.match(row["id"])
        assert row["msId"] == seed.COUNTERPARTY_CREATE["meta"]["id"]
        assert row["name"] == "Иванов Иван Иванович"
        assert row["discountCardNumber"] == "MTIzNDU2Nzg5MA"
        assert row["birthDate"] == "2023-07-14 00:00:00"
        assert row["sex"] == "MALE"
        assert row["phone"] == "+75551234568"

    def test_detail_answers_the_balance_as_a_number(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=500)
        tenant.post("/counterparty", seed.COUNTERPARTY_CREATE)
        response = tenant.post("/counterparty/detail", seed.COUNTERPARTY_DETAIL)
        assert response.status_code == 200
        assert response.json() == {"bonusProgram": {"agentBonusBalance": 500}}
        assert b'"agentBonusBalance":500' in response.content

    def test_unchecked_registration_gets_exactly_the_documented_28001_error(
        self, tenant: Tenant
    ) -> None:
        tenant.set_program(verify_registration=True)
        body = copy.deepcopy(seed.COUNTERPARTY_CREATE) | {"statusCheck": "UNCHECKED"}
        response = tenant.post("/counterparty", body)
        assert response.status_code == 412
        assert response.json() == seed.REGISTRATION_VERIFICATION_REQUIRED

    def test_registration_code_example(self, tenant: Tenant) -> None:
        response = tenant.post("/counterparty/verify", seed.COUNTERPARTY_VERIFY)
        assert response.status_code == 200
        answer = response.json()
        assert set(answer) == {"verificationCode", "timeForRepeat", "messageForCashier"}
        assert re.fullmatch(r"\d{6}", answer["verificationCode"])
        assert answer["timeForRepeat"] == 60
        assert len(answer["messageForCashier"]) <= 140
        assert (
            answer["messageForCashier"].endswith("11-22")
            and "9011231122" not in answer["messageForCashier"]
        )


class TestSaleExamples:
    def test_recalc_example_earns_and_echoes_the_receipt(self, tenant: Tenant) -> None:
        response = tenant.post("/retaildemand/recalc", seed.RECALC_REQUEST)
        assert response.status_code == 200
        answer = response.json()
        assert answer["agent"] == seed.RECALC_REQUEST["agent"]
        assert answer["needVerification"] is False
        [line] = answer["positions"]
        source = seed.RECALC_REQUEST["positions"][0]
        assert line["assortment"] == source["assortment"]
        assert line["sn"] == source["sn"] and line["pack"] == source["pack"]
        assert (
            line["quantity"],
            line["price"],
            line["discountPercent"],
            line["discountedPrice"],
        ) == (
            123.456,
            123.45,
            0,
            123.45,
        )
        # 5 % of round(123.456 × 123.45) = 5 % of 15240.64 = 762.03 → 762 whole points.
        assert answer["bonusProgram"] == {
            "transactionType": "EARNING",
            "agentBonusBalance": 0,
            "bonusValueToSpend": 0,
            "bonusValueToEarn": 762,
            "agentBonusBalanceAfter": 762,
            "paidByBonusPoints": 0,
            "receiptExtraInfo": "Баллов на счёте после покупки: 762",
        }
        assert b'"quantity":123.456' in response.content and b'"price":123.45' in response.content

    def test_spend_code_example(self, tenant: Tenant) -> None:
        response = tenant.post("/retaildemand/verify", seed.SPEND_VERIFY)
        assert response.status_code == 200
        assert re.fullmatch(r"\d{6}", response.json()["verificationCode"])

    def test_sale_example_with_empty_meta_is_committed_once(self, tenant: Tenant) -> None:
        first = tenant.post("/retaildemand", seed.SALE)
        assert first.status_code == 201 and first.content == b""
        again = tenant.post("/retaildemand", seed.SALE)
        assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
        # Earning is recomputed: 5 % of round(123.456 × 62.95) = 5 % of 7771.56 → 388,
        # not the 150 the till sent.
        assert tenant.balance(seed.SALE["agent"]["meta"]["id"]) == 388
        assert (
            tenant.db.scalar("SELECT count(*) FROM sale WHERE account_id = :a", a=tenant.account_id)
            == 1
        )

    def test_return_example_without_sale_or_customer_is_recorded(self, tenant: Tenant) -> None:
        response = tenant.post("/retailsalesreturn", seed.SALES_RETURN)
        assert response.status_code == 201 and response.content == b""
        rows = tenant.db.fetch(
            "SELECT sale_id, customer_id, returned_minor, no_cash_sum"
            " FROM sales_return WHERE account_id = :a",
            a=tenant.account_id,
        )
        assert rows == [
            {"sale_id": None, "customer_id": None, "returned_minor": 777156, "no_cash_sum": 283100}
        ]
