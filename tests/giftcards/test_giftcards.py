"""Gift certificates at the MoySklad till: look-up, payment with the sale, restore on return."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from loyalty.common.clock import Clock
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.payloads import STORE_ID
from tests.support.vouchers import Operator, operator_client

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"
OTHER_PRODUCT = "5b2c1f0e-0000-4000-8000-000000000002"


def lookup(tenant: Tenant, name: str, store: str | None = STORE_ID) -> httpx.Response:
    params = {"name": name} | ({"retailStoreId": store} if store else {})
    return tenant.client.get("/giftcard", params=params)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"errors"}, body
    error: dict[str, Any] = body["errors"][0]
    return error


def pay(card: dict[str, Any], amount_minor: int) -> dict[str, Any]:
    return {"id": card["id"], "name": card["code"], "paymentSum": amount_minor}


def sale_with(
    cards: list[dict[str, Any]],
    *,
    customer: str | None = None,
    positions: list[dict[str, Any]] | None = None,
    sale_id: str | None = None,
) -> dict[str, Any]:
    return payloads.sale(
        sale_id or payloads.new_id(),
        customer,
        positions or [payloads.position(PRODUCT, 1, 1000)],
        giftCards=cards,
    )


def balance_of(operator: Operator, card: dict[str, Any]) -> int:
    balance: int = operator.voucher(card["id"])["balanceMinor"]
    return balance


class TestLookup:
    def test_a_sold_certificate_answers_with_numbers_in_kopecks(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card = operator.certificate(150_000)
        response = lookup(tenant, card["code"])
        assert response.status_code == 200
        assert response.json() == {
            "name": card["code"],
            "id": card["id"],
            "status": "CAN_BE_USED",
            "currentBalance": 150_000,
            "initialBalance": 150_000,
        }
        assert b'"currentBalance":150000' in response.content

    def test_expiry_is_reported_in_utc_in_moysklad_format(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card = operator.certificate(
            10_000, expiry={"type": "FIXED", "expiresAt": "2027-01-31T23:30:00+03:00"}
        )
        assert lookup(tenant, card["code"]).json()["expireDate"] == "2027-01-31 20:30:00"

    def test_typed_in_lower_case_with_dashes_it_is_still_found(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card = operator.certificate()
        typed = "-".join(re.findall(".{1,4}", card["code"].lower()))
        assert lookup(tenant, typed).json()["id"] == card["id"]

    def test_statuses_follow_the_certificate(self, tenant: Tenant, operator: Operator) -> None:
        card = operator.certificate(10_000)
        assert tenant.post("/retaildemand", sale_with([pay(card, 4_000)])).status_code == 201
        assert lookup(tenant, card["code"]).json()["status"] == "PARTIALLY_REDEEMED"
        assert tenant.post("/retaildemand", sale_with([pay(card, 6_000)])).status_code == 201
        assert lookup(tenant, card["code"]).json() | {"id": None} == {
            "name": card["code"],
            "id": None,
            "status": "REDEEMED",
            "currentBalance": 0,
            "initialBalance": 10_000,
        }

    def test_unsold_voided_and_non_certificates_are_invalid(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        batch = operator.batch(type="GIFT", faceValueMinor=5_000)
        unsold = operator.generate(batch["id"], 1, issue=False)[0]
        assert lookup(tenant, unsold["code"]).json()["status"] == "INVALID"
        voided = operator.certificate()
        operator.ok(operator.post(f"/vouchers/{voided['id']}/void", {"reason": "утерян"}))
        assert lookup(tenant, voided["code"]).json() | {"currentBalance": None} == {
            "name": voided["code"],
            "id": voided["id"],
            "status": "INVALID",
            "currentBalance": None,
            "initialBalance": 100_000,
        }
        discount = operator.generate(operator.batch(type="DISCOUNT", discountPercent=5)["id"])[0]
        assert lookup(tenant, discount["code"]).json()["status"] == "INVALID"

    def test_past_its_date_it_is_expired(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        card = operator.certificate(expiry={"type": "DYNAMIC", "days": 30})
        clock.advance(timedelta(days=31))
        assert lookup(tenant, card["code"]).json()["status"] == "EXPIRED"

    def test_unknown_number_is_404_and_a_typo_is_named(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card = operator.certificate()
        missing = lookup(tenant, "UNKNOWN123")
        assert missing.status_code == 404 and error_of(missing)["code"] == 40463
        assert error_of(missing)["parameter"] == "name"
        last = card["code"][-1]
        typo = card["code"][:-1] + ("2" if last != "2" else "3")
        answer = error_of(lookup(tenant, typo))
        assert "контрольный символ" in answer["error_message"]

    def test_the_till_token_is_required(self, anonymous: httpx.Client) -> None:
        response = anonymous.get("/giftcard", params={"name": "1", "retailStoreId": STORE_ID})
        assert response.status_code == 401 and error_of(response)["code"] == 40100

    def test_the_store_is_required(self, tenant: Tenant) -> None:
        response = lookup(tenant, "123456", store=None)
        assert response.status_code == 412 and error_of(response)["parameter"] == "retailStoreId"

    def test_another_merchants_certificate_is_not_found(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        card = operator_client(other_tenant).certificate()
        assert lookup(tenant, card["code"]).status_code == 404


class TestLockout:
    def test_a_store_guessing_numbers_is_locked_out_then_let_back_in(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        card = operator.certificate()
        statuses = [lookup(tenant, f"GUESS{n:05d}").status_code for n in range(10)]
        assert statuses == [404] * 9 + [429]
        locked = lookup(tenant, card["code"])
        assert locked.status_code == 429 and error_of(locked)["code"] == 42961
        assert 0 < int(locked.headers["Retry-After"]) <= 900
        assert lookup(tenant, card["code"], store="other-store").status_code == 200
        clock.advance(timedelta(seconds=901))
        assert lookup(tenant, card["code"]).status_code == 200


class TestPayment:
    def test_paying_decrements_the_balance_once_even_when_replayed(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card = operator.certificate(100_000)
        body = sale_with([pay(card, 30_000)])
        first = tenant.post("/retaildemand", body)
        again = tenant.post("/retaildemand", body)
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotency-Replayed"] == "true"
        assert balance_of(operator, card) == 70_000
        movements = operator.ok(operator.get(f"/vouchers/{card['id']}/movements"))["items"]
        assert (movements[0]["kind"], movements[0]["amountMinor"]) == (
            "redeem",
            -30_000,
        )

    def test_insufficient_balance_refuses_and_applies_nothing_of_the_sale(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        tenant.set_program(welcome_bonus_points=100)
        customer = tenant.register()
        first, second = operator.certificate(20_000), operator.certificate(5_000)
        body = sale_with(
            [pay(first, 20_000), pay(second, 6_000)],
            customer=customer,
            positions=[payloads.position(PRODUCT, 1, 1000, discounted_price=950)],
        )
        body["bonusProgram"] = {"bonusValueToSpend": 50, "bonusValueToEarn": 0}
        response = tenant.post("/retaildemand", body)
        assert response.status_code == 412
        error = error_of(response)
        assert error["parameter"] == "giftCards[1].paymentSum" and error["code"] == 41263
        assert second["code"] in error["error_message"] and "50.00 руб." in error["error_message"]
        assert balance_of(operator, first) == 20_000 and balance_of(operator, second) == 5_000
        assert tenant.balance(customer) == 100
        assert (
            tenant.db.scalar("SELECT count(*) FROM sale WHERE account_id = :a", a=tenant.account_id)
            == 0
        )

    @pytest.mark.parametrize("state", ["expired", "void", "unsold", "discount", "foreign"])
    def test_unusable_certificates_are_refused_with_a_reason(
        self,
        tenant: Tenant,
        other_tenant: Tenant,
        operator: Operator,
        clock: Clock,
        state: str,
    ) -> None:
        if state == "expired":
            card = operator.certificate(expiry={"type": "DYNAMIC", "days": 1})
            clock.advance(timedelta(days=2))
        elif state == "void":
            card = operator.certificate()
            operator.ok(operator.post(f"/vouchers/{card['id']}/void", {}))
        elif state == "unsold":
            card = operator.generate(operator.batch()["id"], 1, issue=False)[0]
        elif state == "discount":
            card = operator.generate(operator.batch(type="DISCOUNT", discountPercent=5)["id"])[0]
        else:
            card = operator_client(other_tenant).certificate()
        response = tenant.post("/retaildemand", sale_with([pay(card, 1_000)]))
        assert response.status_code == 412
        error = error_of(response)
        assert error["parameter"] == "giftCards[0].id"
        expected = {
            "expired": "просрочен",
            "void": "аннулирован",
            "unsold": "не продан",
            "discount": "не подарочный",
            "foreign": "не найден",
        }[state]
        assert expected in error["error_message"] and card["code"] in error["error_message"]
        assert (
            tenant.db.scalar("SELECT count(*) FROM sale WHERE account_id = :a", a=tenant.account_id)
            == 0
        )

    def test_payments_above_the_receipt_are_refused(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card = operator.certificate(500_000)
        response = tenant.post("/retaildemand", sale_with([pay(card, 100_001)]))
        assert response.status_code == 412 and error_of(response)["parameter"] == "giftCards"

    def test_a_name_that_does_not_match_the_id_is_refused(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card, other = operator.certificate(), operator.certificate()
        payment = {"id": card["id"], "name": other["code"], "paymentSum": 100}
        response = tenant.post("/retaildemand", sale_with([payment]))
        assert response.status_code == 412
        assert error_of(response)["parameter"] == "giftCards[0].name"

    def test_the_payment_is_in_the_audit_log_with_store_and_document(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card = operator.certificate(10_000)
        sale_id = payloads.new_id()
        assert (
            tenant.post("/retaildemand", sale_with([pay(card, 1_000)], sale_id=sale_id)).status_code
            == 201
        )
        entries = operator.ok(
            operator.get("/audit", params={"entityType": "voucher", "entityId": card["id"]})
        )["items"]
        redeem = next(entry for entry in entries if entry["action"] == "giftcard.redeem")
        assert redeem["retailStoreId"] == STORE_ID and redeem["document"] == sale_id
        assert redeem["actor"].startswith("till:")
        assert (redeem["before"]["balance_minor"], redeem["after"]["balance_minor"]) == (
            10_000,
            9_000,
        )


class TestReturns:
    def _sold(self, tenant: Tenant, operator: Operator) -> tuple[dict[str, Any], str]:
        card = operator.certificate(100_000)
        sale_id = payloads.new_id()
        body = sale_with(
            [pay(card, 60_000)],
            sale_id=sale_id,
            positions=[
                payloads.position(PRODUCT, 3, 300),
                payloads.position(OTHER_PRODUCT, 1, 100),
            ],
        )
        assert tenant.post("/retaildemand", body).status_code == 201
        assert balance_of(operator, card) == 40_000
        return card, sale_id

    def test_partial_returns_restore_pro_rata_and_a_full_return_exactly(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card, sale_id = self._sold(tenant, operator)
        first = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT, 1, 300)]
        )
        assert tenant.post("/retailsalesreturn", first).status_code == 201
        # 300 of 1000 roubles came back: 30 % of the 600 paid by certificate.
        assert balance_of(operator, card) == 40_000 + 18_000
        assert tenant.post("/retailsalesreturn", first).status_code == 201  # replay
        assert balance_of(operator, card) == 58_000
        rest = payloads.sales_return(
            payloads.new_id(),
            sale_id,
            [payloads.position(PRODUCT, 2, 300), payloads.position(OTHER_PRODUCT, 1, 100)],
        )
        assert tenant.post("/retailsalesreturn", rest).status_code == 201
        assert balance_of(operator, card) == 100_000
        assert operator.voucher(card["id"])["usedCount"] == 0

    def test_restoring_can_be_switched_off(self, tenant: Tenant, operator: Operator) -> None:
        tenant.set_program(restore_gift_cards_on_return=False)
        card, sale_id = self._sold(tenant, operator)
        full = payloads.sales_return(
            payloads.new_id(),
            sale_id,
            [payloads.position(PRODUCT, 3, 300), payloads.position(OTHER_PRODUCT, 1, 100)],
        )
        assert tenant.post("/retailsalesreturn", full).status_code == 201
        assert balance_of(operator, card) == 40_000

    def test_a_voided_certificate_gets_nothing_back(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        card, sale_id = self._sold(tenant, operator)
        operator.ok(operator.post(f"/vouchers/{card['id']}/void", {}))
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT, 3, 300)]
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
        assert operator.voucher(card["id"])["balanceMinor"] == 0


def test_certificates_are_tender_so_points_are_earned_on_the_whole_paid_amount(
    tenant: Tenant, operator: Operator
) -> None:
    customer = tenant.register()
    card = operator.certificate(50_000)
    body = sale_with([pay(card, 50_000)], customer=customer)
    assert tenant.post("/retaildemand", body).status_code == 201
    assert tenant.balance(customer) == 50  # 5 % of 1000 roubles
