"""Registering, finding and identifying customers at the till."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.support import payloads


def search(tenant: Tenant, text: str) -> list[dict[str, Any]]:
    response = tenant.client.get(
        "/counterparty", params={"search": text, "retailStoreId": payloads.STORE_ID}
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def customer_count(tenant: Tenant) -> int:
    return int(
        tenant.db.scalar("SELECT count(*) FROM customer WHERE account_id = :a", a=tenant.account_id)
    )


class TestRegistration:
    def test_repeated_create_updates_the_same_customer(self, tenant: Tenant) -> None:
        customer = tenant.register(name="Иванов Иван")
        tenant.register(customer, name="Иванов Иван Петрович", email="ivan@example.com")
        assert customer_count(tenant) == 1
        [row] = search(tenant, "ivan@example.com")
        assert row["name"] == "Иванов Иван Петрович" and row["msId"] == customer

    def test_customer_known_by_sync_id_gets_its_moysklad_id_later(self, tenant: Tenant) -> None:
        sync_id = payloads.new_id()
        body = payloads.counterparty(
            None,
            syncId=sync_id,
            meta={"href": f"https://x/posap/1.0/entity/counterparty/syncid/{sync_id}"},
        )
        assert tenant.post("/counterparty", body).status_code == 201
        ms_id = payloads.new_id()
        assert (
            tenant.post("/counterparty", payloads.counterparty(ms_id, syncId=sync_id)).status_code
            == 201
        )
        assert customer_count(tenant) == 1
        assert tenant.balance(ms_id) == 0
        detail = tenant.post("/counterparty/detail", {"meta": {"id": sync_id}})
        assert detail.status_code == 200

    def test_a_customer_without_any_identity_is_refused(self, tenant: Tenant) -> None:
        response = tenant.post("/counterparty", payloads.counterparty(None))
        assert response.status_code == 412
        assert response.json()["errors"][0]["parameter"] == "meta.id"

    def test_card_number_is_unique_per_account(self, tenant: Tenant, other_tenant: Tenant) -> None:
        tenant.register(discountCardNumber="777")
        response = tenant.post(
            "/counterparty", payloads.counterparty(payloads.new_id(), discountCardNumber="777")
        )
        assert response.status_code == 412
        error = response.json()["errors"][0]
        assert error["parameter"] == "discountCardNumber" and "карта" in error["error_message"]
        other_tenant.register(discountCardNumber="777")  # another merchant may use the same number

    def test_changing_to_a_taken_card_is_refused(self, tenant: Tenant) -> None:
        tenant.register(discountCardNumber="111")
        second = tenant.register(discountCardNumber="222")
        response = tenant.post(
            "/counterparty", payloads.counterparty(second, discountCardNumber="111")
        )
        assert response.status_code == 412
        assert [row["discountCardNumber"] for row in search(tenant, "222")] == ["222"]

    def test_unparseable_phone_is_kept_as_written(self, tenant: Tenant) -> None:
        tenant.register(name="Без телефона", phone="звонить в офис")
        [row] = search(tenant, "без телеф")
        assert row["phone"] == "звонить в офис"

    def test_bad_birth_date_names_the_parameter(self, tenant: Tenant) -> None:
        response = tenant.post(
            "/counterparty", payloads.counterparty(payloads.new_id(), birthDate="14.07.2023")
        )
        assert response.status_code == 412
        assert response.json()["errors"][0]["parameter"] == "birthDate"

    def test_unchecked_registration_needs_a_code_only_when_the_program_asks(
        self, tenant: Tenant
    ) -> None:
        body = payloads.counterparty(payloads.new_id(), statusCheck="UNCHECKED")
        assert tenant.post("/counterparty", body).status_code == 201
        tenant.set_program(verify_registration=True)
        refused = tenant.post(
            "/counterparty", payloads.counterparty(payloads.new_id(), statusCheck="UNCHECKED")
        )
        assert refused.status_code == 412 and refused.json()["errors"][0]["code"] == 28001
        assert customer_count(tenant) == 1
        # An existing customer is simply updated, without a code.
        assert tenant.post("/counterparty", body | {"name": "Новое имя"}).status_code == 201
        for status in ("CHECKED", "IGNORE"):
            accepted = tenant.post(
                "/counterparty", payloads.counterparty(payloads.new_id(), statusCheck=status)
            )
            assert accepted.status_code == 201
        assert customer_count(tenant) == 3


class TestSearch:
    @pytest.mark.parametrize(
        "typed",
        ["9039993344", "89039993344", "+7 903 999-33-44", "+79039993344", "8 (903) 999 33 44"],
    )
    def test_phone_in_any_format(self, tenant: Tenant, typed: str) -> None:
        customer = tenant.register(phone="+7 903 999-33-44")
        tenant.register(phone="+7 903 999-33-45")
        rows = search(tenant, typed)
        assert [row["msId"] for row in rows] == [customer]
        assert rows[0]["phone"] == "+79039993344"

    def test_card_email_and_name_part(self, tenant: Tenant) -> None:
        customer = tenant.register(
            name="Ромашкова Варвара", discountCardNumber="09716398", email="Varvara@Example.com"
        )
        for text in ("09716398", "varvara@example.com", "варвара", "РОМАШ"):
            assert [row["msId"] for row in search(tenant, text)] == [customer], text

    def test_like_wildcards_are_literal(self, tenant: Tenant) -> None:
        tenant.register(name="Иванов")
        assert search(tenant, "%") == []
        assert search(tenant, "_в") == []

    def test_results_are_bounded_and_exact_matches_come_first(self, tenant: Tenant) -> None:
        for number in range(25):
            tenant.register(name=f"Тестов {number}")
        exact = tenant.register(name="Петров", discountCardNumber="тестов")
        rows = search(tenant, "тестов")
        assert len(rows) == 20
        assert rows[0]["msId"] == exact

    def test_ids_are_ours_and_msid_only_when_known(self, tenant: Tenant) -> None:
        sync_id = payloads.new_id()
        tenant.post(
            "/counterparty", payloads.counterparty(None, syncId=sync_id, name="Только касса")
        )
        [row] = search(tenant, "только касса")
        assert "msId" not in row and len(row["id"]) == 36

    def test_store_is_required(self, tenant: Tenant) -> None:
        response = tenant.client.get("/counterparty", params={"search": "x"})
        assert response.status_code == 412
        assert response.json()["errors"][0]["parameter"] == "retailStoreId"

    def test_empty_search_finds_nobody(self, tenant: Tenant) -> None:
        tenant.register()
        assert search(tenant, "  ") == []

    def test_other_accounts_customers_are_invisible(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        other_tenant.register(name="Чужой", phone="+79001112233")
        assert search(tenant, "чужой") == [] and search(tenant, "9001112233") == []


class TestBalanceRequest:
    def test_unknown_customer_is_404_when_auto_enrol_is_off(self, tenant: Tenant) -> None:
        tenant.set_program(auto_enroll=False)
        response = tenant.post("/counterparty/detail", {"meta": {"id": payloads.new_id()}})
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == 40401
        assert customer_count(tenant) == 0

    def test_unknown_customer_is_enrolled_when_auto_enrol_is_on(self, tenant: Tenant) -> None:
        ms_id = payloads.new_id()
        assert tenant.balance(ms_id) == 0
        assert customer_count(tenant) == 1

    def test_found_by_our_id(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=10)
        tenant.register(name="Наш")
        [row] = search(tenant, "наш")
        response = tenant.post("/counterparty/detail", {"meta": {"id": row["id"]}})
        assert response.json() == {"bonusProgram": {"agentBonusBalance": 10}}

    def test_another_accounts_customer_is_not_found(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        tenant.set_program(auto_enroll=False)
        foreign = other_tenant.register()
        assert tenant.post("/counterparty/detail", {"meta": {"id": foreign}}).status_code == 404


class TestDuplicateIdentities:
    def test_ids_held_by_two_of_our_customers_are_not_moved_between_them(
        self, tenant: Tenant
    ) -> None:
        sync_id = payloads.new_id()
        by_sync = payloads.counterparty(None, syncId=sync_id, name="Только касса")
        assert tenant.post("/counterparty", by_sync).status_code == 201
        ms_id = tenant.register(name="Из МоегоСклада")
        # The till now says both ids are one person: no 500, no identifier stolen.
        both = payloads.counterparty(ms_id, syncId=sync_id, name="Один человек")
        assert tenant.post("/counterparty", both).status_code == 201
        rows = tenant.db.fetch(
            "SELECT moysklad_id, sync_id FROM customer WHERE account_id = :a ORDER BY created_at",
            a=tenant.account_id,
        )
        assert rows == [
            {"moysklad_id": None, "sync_id": sync_id},
            {"moysklad_id": ms_id, "sync_id": None},
        ]

    def test_a_moysklad_id_wins_over_the_same_text_as_another_customers_sync_id(
        self, tenant: Tenant
    ) -> None:
        tenant.set_program(welcome_bonus_points=10)
        ms_id = tenant.register(name="Из МоегоСклада")
        tenant.set_program(welcome_bonus_points=0)
        # Another customer, known to the till only, whose syncId is the same text.
        only_till = payloads.counterparty(None, syncId=ms_id, name="Только касса")
        assert tenant.post("/counterparty", only_till).status_code == 201
        detail = tenant.post("/counterparty/detail", {"meta": {"id": ms_id}})
        assert detail.json() == {"bonusProgram": {"agentBonusBalance": 10}}
        answer = tenant.recalc(payloads.recalc(ms_id, [payloads.position()]))
        assert answer["bonusProgram"]["agentBonusBalanceAfter"] == 10 + 5  # 5 % earned
