"""A data subject's rights: export everything held about a customer, erase personal data."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from loyalty.cli import cli
from tests.backoffice.conftest import BackOffice, problem
from tests.conftest import Tenant, assert_ledger_consistent
from tests.support import payloads

PERSONAL = {
    "name": "Мария Петрова",
    "phone": "+79160001122",
    "email": "maria@example.ru",
    "discountCardNumber": "DR-CARD-7",
    "legalFirstName": "Мария",
    "legalLastName": "Петрова",
    "sex": "FEMALE",
}


def _customer_with_history(tenant: Tenant, office: BackOffice) -> str:
    customer = office.customer(**PERSONAL)
    office.ok(office.client.patch(f"/customers/{customer}", json={"birthDate": "1985-03-08"}))
    office.ok(office.adjust(customer, 200))
    tenant.buy(office.ms_id(customer), [payloads.position(quantity=1, price=1000)])
    return customer


class TestExport:
    def test_everything_held_about_the_customer(self, tenant: Tenant, office: BackOffice) -> None:
        customer = _customer_with_history(tenant, office)
        document = office.ok(office.client.get(f"/customers/{customer}/export"))
        person = document["customer"]
        assert person["phone"] == "+79160001122"
        assert person["email"] == "maria@example.ru"
        assert person["card_number"] == "DR-CARD-7"
        assert person["birth_date"] == "1985-03-08"
        assert person["legal_last_name"] == "Петрова"
        assert document["balance"]["availablePoints"] == 200 + 50
        assert [line["amountPoints"] for line in document["ledger"]] == [200, 50]
        [sale] = document["sales"]
        assert sale["earned_points"] == 50 and sale["paid_minor"] == 100_000
        assert "customer.update" in [record["action"] for record in document["audit"]]
        # Looking at the data is itself recorded.
        assert "customer.export" in [record["action"] for record in office.audit(customer)]

    def test_replaced_card_numbers_are_part_of_it(self, office: BackOffice) -> None:
        customer = office.customer(**PERSONAL)
        for number in ("DR-CARD-8", "DR-CARD-9"):
            office.ok(
                office.client.post(
                    f"/customers/{customer}/replace-card", json={"cardNumber": number}
                )
            )
        document = office.ok(office.client.get(f"/customers/{customer}/export"))
        assert document["customer"]["card_number"] == "DR-CARD-9"
        assert [card["cardNumber"] for card in document["retiredCards"]] == [
            "DR-CARD-7",
            "DR-CARD-8",
        ]

    def test_read_only_keys_cannot_export(self, office: BackOffice, reader: BackOffice) -> None:
        customer = office.customer(**PERSONAL)
        problem(reader.client.get(f"/customers/{customer}/export"), 403, 40360)


class TestErase:
    def test_personal_fields_go_the_ledger_stays_balanced(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        customer = _customer_with_history(tenant, office)
        ms_id = office.ms_id(customer)
        erased = office.ok(office.client.post(f"/customers/{customer}/erase", json={}))
        assert erased["status"] == "erased"
        for field in (
            "name",
            "phone",
            "email",
            "cardNumber",
            "legalFirstName",
            "legalLastName",
            "birthDate",
            "sex",
        ):
            assert erased[field] is None, field
        stored = tenant.db.fetch(
            "SELECT * FROM customer WHERE account_id = :account AND id = :id",
            account=tenant.account_id,
            id=customer,
        )[0]
        assert stored["phone_ciphertext"] is None and stored["phone_index"] is None
        # Nothing personal is left in the database, audit log included.
        dump = json.dumps(
            tenant.db.fetch(
                "SELECT * FROM audit_log WHERE account_id = :account", account=tenant.account_id
            ),
            default=str,
            ensure_ascii=False,
        )
        for value in ("Петрова", "maria@example.ru", "DR-CARD-7", "79160001122"):
            assert value not in dump
        for search in ("+79160001122", "DR-CARD-7", "maria@example.ru", "Петрова"):
            assert (
                office.ok(office.client.get("/customers", params={"search": search}))["items"] == []
            )
        assert erased["balance"]["availablePoints"] == 250  # an accounting record, kept
        assert_ledger_consistent(tenant.db, tenant.account_id)
        refused = tenant.post(
            "/retaildemand/recalc",
            payloads.recalc(ms_id, [payloads.position()], spending=True),
        )
        assert refused.status_code == 412
        problem(office.client.patch(f"/customers/{customer}", json={"name": "X"}), 409, 40980)
        again = office.ok(office.client.post(f"/customers/{customer}/erase", json={}))
        assert again["status"] == "erased"

    def test_the_till_neither_finds_nor_refills_an_erased_customer(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        customer = office.customer(**PERSONAL)
        ms_id = office.ms_id(customer)
        office.ok(office.client.post(f"/customers/{customer}/erase", json={}))
        again = tenant.post("/counterparty", payloads.counterparty(ms_id, **PERSONAL))
        assert again.status_code == 201, again.text
        assert office.ok(office.client.get(f"/customers/{customer}"))["phone"] is None
        rows = tenant.client.get(
            "/counterparty", params={"search": "Петрова", "retailStoreId": "s"}
        ).json()["rows"]
        assert rows == []


class TestCommandLine:
    def test_export_and_erase(self, tenant: Tenant, office: BackOffice, database_url: str) -> None:
        customer = _customer_with_history(tenant, office)
        env = {"DATABASE_URL": database_url}
        account = str(tenant.account_id)

        def invoke(*args: str) -> Any:
            result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        exported = invoke("customer", "export", account, "+7 916 000-11-22")
        assert exported["customer"]["id"] == customer
        assert exported["customer"]["email"] == "maria@example.ru"
        assert len(exported["ledger"]) == 2
        erased = invoke("customer", "erase", account, customer, "--yes", "--actor", "dpo")
        assert erased["status"] == "erased"
        assert erased["balance"]["available_points"] == 250
        assert invoke("customer", "export", account, customer)["customer"]["email"] is None
        [record] = [item for item in office.audit(customer) if item["action"] == "customer.erase"]
        assert record["actor"] == "dpo"
        verified = CliRunner().invoke(cli, ["ledger", "verify", account], env=env)
        assert verified.exit_code == 0, verified.output
