"""Customers in the back office: list, search, read, edit, block, replace a card, merge."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from loyalty.common.clock import Clock
from tests.backoffice.conftest import BackOffice, problem
from tests.conftest import Tenant, assert_ledger_consistent
from tests.support import payloads
from tests.support.locks import HeldRowLock
from tests.support.vouchers import operator_client

PRODUCT = payloads.position(quantity=1, price=1000)


class HeldChange(HeldRowLock):
    """A locked row changed in a transaction that stays open until `release()`."""

    def execute(self, sql: str, *args: Any) -> None:
        self._run(self._connection.execute(sql, *args))


class TestReading:
    def test_search_by_phone_in_any_format_card_email_and_name(self, office: BackOffice) -> None:
        wanted = office.customer(
            phone="+7 903 555-12-34",
            discountCardNumber="BO-CARD-1",
            email="Anna@Example.ru",
            name="Анна Каренина",
        )
        office.customer(name="Другой Человек")
        for text in ("89035551234", "BO-CARD-1", "anna@example.ru", "карен"):
            items = office.ok(office.client.get("/customers", params={"search": text}))["items"]
            assert [item["id"] for item in items] == [wanted], text
        found = office.ok(office.client.get(f"/customers/{wanted}"))
        assert found["phone"] == "+79035551234"
        assert found["cardNumber"] == "BO-CARD-1"
        assert found["status"] == "active"
        assert found["balance"] == {"availablePoints": 0, "pendingPoints": 0, "debtPoints": 0}

    def test_keyset_pages_cover_every_customer_once(self, office: BackOffice) -> None:
        created = {office.customer() for _ in range(5)}
        seen: list[str] = []
        cursor = None
        while True:
            params = {"count": 2} | ({"after": cursor} if cursor else {})
            page = office.ok(office.client.get("/customers", params=params))
            seen += [item["id"] for item in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(created)
        assert len(seen) == len(set(seen))

    def test_balances_are_shown(self, office: BackOffice) -> None:
        customer = office.customer()
        office.ok(office.adjust(customer, 250))
        assert office.balance(customer)["availablePoints"] == 250
        [item] = office.ok(office.client.get("/customers"))["items"]
        assert item["balance"]["availablePoints"] == 250

    def test_unknown_or_foreign_customer_is_404(
        self, office: BackOffice, other_tenant: Tenant
    ) -> None:
        from tests.backoffice.conftest import back_office

        foreign = back_office(other_tenant).customer()
        for customer in (foreign, "6f1b0c8e-0000-4000-8000-000000000000"):
            problem(office.client.get(f"/customers/{customer}"), 404, 40480)
            problem(office.adjust(customer, 10), 404, 40480)
        problem(office.client.get("/customers/not-a-uuid"), 412)


class TestEditing:
    def test_patch_changes_only_given_fields_and_is_audited(self, office: BackOffice) -> None:
        customer = office.customer(name="Пётр", email="old@example.ru")
        updated = office.ok(
            office.client.patch(
                f"/customers/{customer}",
                json={"email": "new@example.ru", "birthDate": "1990-05-01", "sex": "MALE"},
            )
        )
        assert updated["email"] == "new@example.ru"
        assert updated["name"] == "Пётр"
        assert updated["birthDate"] == "1990-05-01" and updated["sex"] == "MALE"
        cleared = office.ok(office.client.patch(f"/customers/{customer}", json={"email": None}))
        assert cleared["email"] is None
        actions = [record["action"] for record in office.audit(customer)]
        assert actions.count("customer.update") == 2
        record = office.audit(customer)[-1]
        assert record["actor"].startswith("operator-key:")
        # Personal values are masked in the append-only audit log.
        assert "new@example.ru" not in str(record)
        assert record["before"]["email"] != record["after"]["email"]

    def test_bad_fields_are_named_in_russian(self, office: BackOffice) -> None:
        customer = office.customer()
        cases = [
            ({"email": "not-an-email"}, "email"),
            ({"birthDate": "2999-01-01"}, "birthDate"),
            ({"phone": "12"}, "phone"),
            ({"sex": "X"}, "sex"),
            ({"unknown": 1}, "unknown"),
        ]
        for body, parameter in cases:
            answer = problem(office.client.patch(f"/customers/{customer}", json=body), 412)
            assert answer["parameter"] == parameter, answer
            assert any("а" <= char <= "я" for char in answer["detail"].lower()), answer

    def test_card_numbers_stay_unique(self, office: BackOffice) -> None:
        office.customer(discountCardNumber="TAKEN-1")
        other = office.customer()
        answer = problem(
            office.client.patch(f"/customers/{other}", json={"cardNumber": "TAKEN-1"}), 409, 40981
        )
        assert answer["parameter"] == "cardNumber"
        problem(
            office.client.post(f"/customers/{other}/replace-card", json={"cardNumber": "TAKEN-1"}),
            409,
            40981,
        )

    def test_read_only_key_cannot_change_customers(
        self, office: BackOffice, reader: BackOffice
    ) -> None:
        customer = office.customer()
        assert reader.client.get(f"/customers/{customer}").status_code == 200
        refused = [
            reader.client.patch(f"/customers/{customer}", json={"name": "X"}),
            reader.client.post(f"/customers/{customer}/block", json={}),
            reader.client.post(f"/customers/{customer}/replace-card", json={"cardNumber": "1"}),
            reader.adjust(customer, 10),
            reader.transfer(customer, office.customer(), 1),
            reader.client.post(f"/customers/{customer}/erase", json={}),
            reader.client.post(f"/customers/{customer}/merge", json={"duplicateId": customer}),
            reader.client.post(f"/customers/{customer}/unblock", json={}),
        ]
        for response in refused:
            problem(response, 403, 40360)
        assert office.ok(office.client.get(f"/customers/{customer}"))["name"] != "X"


class TestBlocking:
    def test_blocked_customer_neither_spends_nor_earns_at_the_till(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        customer = office.customer()
        ms_id = office.ms_id(customer)
        office.ok(office.adjust(customer, 300))
        blocked = office.ok(
            office.client.post(f"/customers/{customer}/block", json={"reason": "Мошенничество"})
        )
        assert blocked["status"] == "blocked"
        refused = tenant.post(
            "/retaildemand/recalc", payloads.recalc(ms_id, [PRODUCT], spending=True)
        )
        assert refused.status_code == 412
        assert "заблокирован" in refused.json()["errors"][0]["error_message"]
        sale = payloads.sale(
            payloads.new_id(),
            ms_id,
            [payloads.position(quantity=1, price=1000, discounted_price=900)],
            spend=100,
        )
        assert tenant.post("/retaildemand", sale).status_code == 412
        quote = tenant.recalc(payloads.recalc(ms_id, [PRODUCT]))
        assert quote["bonusProgram"]["bonusValueToEarn"] == 0
        tenant.buy(ms_id, [PRODUCT])
        assert office.balance(customer)["availablePoints"] == 300

        active = office.ok(office.client.post(f"/customers/{customer}/unblock", json={}))
        assert active["status"] == "active"
        tenant.buy(ms_id, [PRODUCT])
        assert office.balance(customer)["availablePoints"] > 300
        actions = [record["action"] for record in office.audit(customer)]
        assert "customer.block" in actions and "customer.unblock" in actions

    def test_a_block_landing_during_a_sale_is_seen_by_it(
        self, tenant: Tenant, office: BackOffice, database_url: str
    ) -> None:
        customer = office.customer()
        ms_id = office.ms_id(customer)
        office.ok(office.adjust(customer, 300))
        # An operator's block, in flight: the row is locked and changed, not yet committed.
        block = HeldChange(
            database_url,
            "SELECT id FROM customer WHERE account_id = $1 AND id = $2 FOR UPDATE",
            tenant.account_id,
            uuid.UUID(customer),
        )
        try:
            block.execute(
                "UPDATE customer SET status = 'blocked' WHERE account_id = $1 AND id = $2",
                tenant.account_id,
                uuid.UUID(customer),
            )
            sale = payloads.sale(
                payloads.new_id(),
                ms_id,
                [payloads.position(quantity=1, price=1000, discounted_price=900)],
                spend=100,
            )
            with ThreadPoolExecutor(max_workers=1) as pool:
                answer = pool.submit(tenant.new_client().post, "/retaildemand", json=sale)
                block.wait_for_waiting_requests(1)
                block.release()
                response = answer.result(timeout=30)
        finally:
            block.release()
        assert response.status_code == 412, response.text
        assert office.balance(customer)["availablePoints"] == 300

    def test_blocking_twice_changes_nothing(self, office: BackOffice) -> None:
        customer = office.customer()
        office.ok(office.client.post(f"/customers/{customer}/block", json={}))
        office.ok(office.client.post(f"/customers/{customer}/block", json={}))
        actions = [record["action"] for record in office.audit(customer)]
        assert actions.count("customer.block") == 1


class TestReplaceCard:
    def test_new_card_finds_the_customer_old_one_does_not_and_points_stay(
        self, office: BackOffice
    ) -> None:
        customer = office.customer(discountCardNumber="OLD-CARD")
        office.ok(office.adjust(customer, 120))
        replaced = office.ok(
            office.client.post(f"/customers/{customer}/replace-card", json={"cardNumber": "NEW"})
        )
        assert replaced["cardNumber"] == "NEW"
        assert replaced["balance"]["availablePoints"] == 120
        assert (
            office.ok(office.client.get("/customers", params={"search": "OLD-CARD"}))["items"] == []
        )
        [found] = office.ok(office.client.get("/customers", params={"search": "NEW"}))["items"]
        assert found["id"] == customer
        [record] = [
            item for item in office.audit(customer) if item["action"] == "customer.replace_card"
        ]
        assert record["before"]["cardNumber"] != record["after"]["cardNumber"]

    def test_a_replaced_card_is_never_given_out_again(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        card = f"LOST-{uuid.uuid4().hex[:8]}"
        customer = office.customer(discountCardNumber=card)
        office.ok(
            office.client.post(f"/customers/{customer}/replace-card", json={"cardNumber": "N-1"})
        )

        # At the till: a new customer with the lost card is refused in words the cashier acts on.
        at_till = tenant.post(
            "/counterparty", payloads.counterparty(payloads.new_id(), discountCardNumber=card)
        )
        assert at_till.status_code == 412, at_till.text
        [error] = at_till.json()["errors"]
        assert error["code"] == 41235 and error["parameter"] == "discountCardNumber"
        assert "заменена" in error["error_message"]
        # An existing customer cannot take it either, at the till or in the back office.
        other_ms_id = tenant.register()
        renamed = tenant.post(
            "/counterparty", payloads.counterparty(other_ms_id, discountCardNumber=card)
        )
        assert renamed.status_code == 412 and renamed.json()["errors"][0]["code"] == 41235
        other = office.customer()
        problem(office.client.patch(f"/customers/{other}", json={"cardNumber": card}), 409, 40984)
        problem(
            office.client.post(f"/customers/{other}/replace-card", json={"cardNumber": card}),
            409,
            40984,
        )
        # Nor the customer who lost it.
        problem(
            office.client.post(f"/customers/{customer}/replace-card", json={"cardNumber": card}),
            409,
            40984,
        )

        # PostgreSQL refuses it whoever writes.
        with pytest.raises(Exception, match="retired card number"):
            tenant.db.fetch(
                "UPDATE customer SET card_number = :card WHERE account_id = :account"
                " AND id = :customer RETURNING id",
                card=card,
                account=tenant.account_id,
                customer=uuid.UUID(other),
            )

        # Erasing the customer who held it forgets the number with the rest of their data.
        office.ok(office.client.post(f"/customers/{customer}/erase", json={}))
        office.customer(discountCardNumber=card)

    def test_a_card_retired_while_a_till_registers_it_is_refused_not_taken(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        """The till's insert waits on the old number's row while the replacement is open,
        then finds the number free: the trigger still refuses it, and the till says why."""
        card = f"RACE-{uuid.uuid4().hex[:8]}"
        customer = office.customer(discountCardNumber=card)
        replacement = HeldRowLock(
            tenant.db.url,
            "WITH moved AS (UPDATE customer SET card_number = 'R-NEW-' || $3"
            " WHERE account_id = $1 AND id = $2 RETURNING id)"
            " INSERT INTO retired_card (account_id, card_number, customer_id, retired_at)"
            " SELECT $1, $3, id, now() FROM moved RETURNING customer_id",
            tenant.account_id,
            uuid.UUID(customer),
            card,
        )
        assert replacement.locked_rows == 1
        client = tenant.new_client()
        with ThreadPoolExecutor(max_workers=1) as pool:
            try:
                registering = pool.submit(
                    client.post,
                    "/counterparty",
                    json=payloads.counterparty(payloads.new_id(), discountCardNumber=card),
                )
                replacement.wait_for_waiting_requests(1)
            finally:
                replacement.release()
            answer = registering.result(timeout=30)
        assert answer.status_code == 412, answer.text
        assert answer.json()["errors"][0]["code"] == 41235


class TestMerge:
    def test_points_and_debt_follow_and_the_duplicate_is_closed(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        survivor = office.customer()
        duplicate = office.customer(discountCardNumber="BO-DUP-CARD")
        office.ok(office.adjust(survivor, 100))
        office.ok(office.adjust(duplicate, 250))
        merged = office.ok(
            office.client.post(f"/customers/{survivor}/merge", json={"duplicateId": duplicate})
        )
        assert merged["replayed"] is False
        assert merged["customer"]["balance"]["availablePoints"] == 350
        closed = office.ok(office.client.get(f"/customers/{duplicate}"))
        assert closed["status"] == "merged" and closed["mergedIntoId"] == survivor
        assert closed["balance"] == {"availablePoints": 0, "pendingPoints": 0, "debtPoints": 0}
        again = office.ok(
            office.client.post(f"/customers/{survivor}/merge", json={"duplicateId": duplicate})
        )
        assert again["replayed"] is True
        assert office.balance(survivor)["availablePoints"] == 350
        # The duplicate can no longer be used at the till or changed.
        spend = tenant.post(
            "/retaildemand/recalc",
            payloads.recalc(office.ms_id(duplicate), [PRODUCT], spending=True),
        )
        assert spend.status_code == 412
        problem(office.adjust(duplicate, 10), 409, 40980)
        rows = tenant.client.get(
            "/counterparty", params={"search": "BO-DUP-CARD", "retailStoreId": "s"}
        ).json()["rows"]
        assert rows == []  # the till's search offers only the survivor
        kinds = [
            line["kind"]
            for line in office.ok(office.client.get(f"/customers/{survivor}/ledger"))["items"]
        ]
        assert "merge" in kinds
        assert "customer.merge" in [record["action"] for record in office.audit(survivor)]
        assert_ledger_consistent(tenant.db, tenant.account_id)

    def test_a_duplicates_debt_is_repaid_from_the_survivors_points(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        survivor = office.customer()
        office.ok(office.adjust(survivor, 500))
        duplicate = office.customer()
        ms_id = office.ms_id(duplicate)
        # The duplicate earns on a sale, spends it, then the sale is returned: debt.
        sale_id, _ = tenant.buy(ms_id, [payloads.position(quantity=1, price=2000)])
        earned = office.balance(duplicate)["availablePoints"]
        assert earned > 0
        office.ok(office.adjust(duplicate, -earned))
        returned = tenant.post(
            "/retailsalesreturn",
            payloads.sales_return(
                payloads.new_id(),
                sale_id,
                [payloads.position(quantity=1, price=2000)],
                ms_id=ms_id,
            ),
        )
        assert returned.status_code == 201, returned.text
        assert office.balance(duplicate)["debtPoints"] == earned
        office.ok(
            office.client.post(f"/customers/{survivor}/merge", json={"duplicateId": duplicate})
        )
        assert office.balance(survivor) == {
            "availablePoints": 500 - earned,
            "pendingPoints": 0,
            "debtPoints": 0,
        }
        assert_ledger_consistent(tenant.db, tenant.account_id)

    def test_issued_vouchers_follow_the_survivor(self, tenant: Tenant, office: BackOffice) -> None:
        survivor, duplicate = office.customer(), office.customer()
        vouchers = operator_client(tenant)
        [issued] = vouchers.personal(duplicate)
        [voided] = vouchers.personal(duplicate)
        vouchers.ok(vouchers.post(f"/vouchers/{voided['id']}/void", {}))
        office.ok(
            office.client.post(f"/customers/{survivor}/merge", json={"duplicateId": duplicate})
        )
        assert vouchers.voucher(issued["id"])["customerId"] == survivor
        assert vouchers.voucher(voided["id"])["customerId"] == duplicate
        [record] = [item for item in office.audit(survivor) if item["action"] == "customer.merge"]
        assert record["after"]["movedVouchers"] == 1

    def test_pending_points_keep_their_activation_and_expiry(
        self, tenant: Tenant, office: BackOffice, clock: Clock
    ) -> None:
        tenant.set_program(activation_delay_days=7, expiry_days=30)
        survivor, duplicate = office.customer(), office.customer()
        tenant.buy(office.ms_id(duplicate), [payloads.position(quantity=1, price=2000)])
        pending = office.balance(duplicate)["pendingPoints"]
        assert pending == 100
        office.ok(
            office.client.post(f"/customers/{survivor}/merge", json={"duplicateId": duplicate})
        )
        assert office.balance(survivor) == {
            "availablePoints": 0,
            "pendingPoints": 100,
            "debtPoints": 0,
        }
        clock.advance(timedelta(days=8))
        assert office.balance(survivor)["availablePoints"] == 100
        clock.advance(timedelta(days=30))
        assert office.balance(survivor)["availablePoints"] == 0
        office.ok(office.adjust(survivor, 1))  # a write posts the due activation and expiry
        assert_ledger_consistent(tenant.db, tenant.account_id)

    def test_merging_with_itself_or_a_closed_customer_is_refused(self, office: BackOffice) -> None:
        customer = office.customer()
        answer = problem(
            office.client.post(f"/customers/{customer}/merge", json={"duplicateId": customer}),
            412,
        )
        assert answer["parameter"] == "duplicateId"
        erased = office.customer()
        office.ok(office.client.post(f"/customers/{erased}/erase", json={}))
        problem(
            office.client.post(f"/customers/{customer}/merge", json={"duplicateId": erased}),
            409,
            40980,
        )
