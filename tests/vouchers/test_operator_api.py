"""The operator REST API (/api/v1): keys and roles, problem details, the voucher lifecycle."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loyalty.operators.schemas import Role
from loyalty.vouchers import codes
from loyalty.vouchers.codes import CodeFormat
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.vouchers import Operator, operator_client, operator_key

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(body)
    assert body["status"] == response.status_code
    return body


class TestKeysAndRoles:
    def test_missing_or_wrong_key_is_401_problem(self, tenant: Tenant) -> None:
        base = f"{tenant.server.base_url}/api/v1/vouchers"
        for headers in ({}, {"Authorization": "Bearer lop_wrong"}, {"X-Api-Key": "nope"}):
            response = httpx.get(base, headers=headers)
            assert response.status_code == 401
            assert problem(response)["code"] == 40160
            assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_key_in_basic_auth_or_x_api_key_works_too(self, tenant: Tenant) -> None:
        key = operator_key(tenant, Role.read_only)
        base = f"{tenant.server.base_url}/api/v1/voucher-batches"
        assert httpx.get(base, auth=("pos", key)).status_code == 200
        assert httpx.get(base, headers={"X-Api-Key": key}).status_code == 200

    def test_read_only_key_cannot_change_anything(self, tenant: Tenant) -> None:
        reader = operator_client(tenant, Role.read_only)
        assert reader.get("/voucher-batches").status_code == 200
        response = reader.post("/voucher-batches", {"name": "x", "type": "GIFT"})
        assert response.status_code == 403 and problem(response)["code"] == 40360

    def test_only_admins_manage_keys_and_a_revoked_key_stops_at_once(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        writer = operator_client(tenant, Role.operator)
        assert writer.get("/operator-keys").status_code == 403
        created = operator.ok(
            operator.post("/operator-keys", {"name": "Касса 2", "role": "read-only"}), 201
        )
        assert created["key"].startswith("lop_")
        listed = operator.ok(operator.get("/operator-keys"))["items"]
        assert all("key" not in item for item in listed)
        assert any(item["keyPrefix"] == created["key"][:12] for item in listed)
        headers = {"Authorization": f"Bearer {created['key']}"}
        url = f"{tenant.server.base_url}/api/v1/voucher-batches"
        assert httpx.get(url, headers=headers).status_code == 200
        operator.ok(operator.post(f"/operator-keys/{created['id']}/revoke"))
        assert httpx.get(url, headers=headers).status_code == 401

    def test_keys_of_one_merchant_see_nothing_of_another(
        self, tenant: Tenant, other_tenant: Tenant, operator: Operator
    ) -> None:
        batch = operator.batch()
        [voucher] = operator.generate(batch["id"])
        stranger = operator_client(other_tenant)
        assert stranger.get(f"/vouchers/{voucher['id']}").status_code == 404
        assert stranger.get(f"/voucher-batches/{batch['id']}").status_code == 404
        assert stranger.get(f"/vouchers/by-code/{voucher['code']}").status_code == 404
        assert stranger.post(f"/vouchers/{voucher['id']}/void", {}).status_code == 404
        assert stranger.ok(stranger.get("/vouchers"))["total"] == 0


class TestProblems:
    def test_validation_lists_every_problem(self, operator: Operator) -> None:
        response = operator.post(
            "/voucher-batches", {"name": "", "type": "BONUS", "faceValueMinor": -1}
        )
        body = problem(response)
        assert response.status_code == 412 and body["parameter"] == "name"
        assert {item["parameter"] for item in body["errors"]} == {
            "name",
            "type",
            "faceValueMinor",
        }

    def test_unknown_fields_are_refused_so_typos_never_pass(self, operator: Operator) -> None:
        response = operator.post(
            "/voucher-batches", {"name": "x", "type": "GIFT", "faceValue": 100}
        )
        assert problem(response)["parameter"] == "faceValue"

    def test_business_errors_name_the_setting_in_russian(self, operator: Operator) -> None:
        response = operator.post(
            "/voucher-batches",
            {
                "name": "x",
                "type": "GIFT",
                "faceValueMinor": 100,
                "codeFormat": {"length": 6, "alphabet": "0123456789"},
            },
        )
        body = problem(response)
        assert body["parameter"] == "code_format" and "бит" in body["detail"]

    def test_unknown_route_is_a_problem_too(self, operator: Operator) -> None:
        response = operator.get("/no-such-thing")
        assert response.status_code == 404 and problem(response)["code"] == 40404


class TestBatchesAndVouchers:
    def test_generated_codes_follow_the_batch_format(self, operator: Operator) -> None:
        batch = operator.batch(
            type="DISCOUNT",
            discountPercent=15,
            codeFormat={"length": 10, "alphabet": "0123456789ABCDEF", "prefix": "SL"},
        )
        generation = operator.ok(
            operator.post(f"/voucher-batches/{batch['id']}/generate", {"count": 50}), 201
        )
        assert generation["count"] == 50
        assert generation["lastSerial"] - generation["firstSerial"] == 49
        items = (
            operator.generate(batch["id"], 0, issue=False)
            if False
            else operator.ok(
                operator.get("/vouchers", params={"batchId": batch["id"], "count": 100})
            )["items"]
        )
        code_format = CodeFormat(10, "0123456789ABCDEF", "SL")
        assert len({item["code"] for item in items}) == 50
        assert all(codes.has_valid_check(item["code"], code_format) for item in items)
        assert {item["status"] for item in items} == {"NEW"}
        serials = sorted(item["serialNumber"] for item in items)
        assert serials == list(range(generation["firstSerial"], generation["lastSerial"] + 1))
        shown = operator.ok(operator.get(f"/voucher-batches/{batch['id']}"))
        assert shown["vouchersByStatus"] == {"NEW": 50}

    def test_large_runs_are_sent_to_the_command_line(self, operator: Operator) -> None:
        batch = operator.batch()
        response = operator.post(f"/voucher-batches/{batch['id']}/generate", {"count": 1001})
        body = problem(response)
        assert body["parameter"] == "count" and "loyalty vouchers generate" in body["detail"]

    def test_generation_is_idempotent_by_key(self, operator: Operator) -> None:
        batch = operator.batch()
        url = f"/voucher-batches/{batch['id']}/generate"
        headers = {"Idempotency-Key": "run-1"}
        first = operator.ok(operator.post(url, {"count": 5}, headers=headers), 201)
        again = operator.ok(operator.post(url, {"count": 5}, headers=headers), 201)
        assert again == first | {"replayed": True}
        reused = operator.post(url, {"count": 6}, headers=headers)
        assert reused.status_code == 409 and problem(reused)["code"] == 40964
        assert operator.ok(operator.get("/vouchers", params={"batchId": batch["id"]}))["total"] == 5

    def test_list_filters_sorts_and_pages(self, operator: Operator) -> None:
        batch = operator.batch(faceValueMinor=5_000)
        vouchers = operator.generate(batch["id"], 7)
        operator.ok(operator.post(f"/vouchers/{vouchers[0]['id']}/void", {}))
        page = operator.ok(
            operator.get(
                "/vouchers",
                params={
                    "batchId": batch["id"],
                    "status": "ISSUED",
                    "sort": "serialNumber",
                    "direction": "desc",
                    "count": 4,
                    "offset": 1,
                },
            )
        )
        assert page["total"] == 6 and len(page["items"]) == 4
        serials = [item["serialNumber"] for item in page["items"]]
        assert serials == sorted(serials, reverse=True)
        assert serials[0] == vouchers[-2]["serialNumber"]
        bad = operator.get("/vouchers", params={"sort": "pin"})
        assert bad.status_code == 412 and problem(bad)["parameter"] == "sort"
        # A number is not a moment, though it would parse as a Unix timestamp.
        for moment in ("0.5", "1700000000"):
            bad = operator.get("/vouchers", params={"expiresBefore": moment})
            assert bad.status_code == 412 and problem(bad)["parameter"] == "expiresBefore"
        later = operator.get("/vouchers", params={"expiresBefore": "2999-01-01T00:00:00Z"})
        assert operator.ok(later)["total"] >= 0

    def test_paging_beyond_any_page_is_refused_not_a_server_error(self, operator: Operator) -> None:
        for path in ("/audit", "/vouchers"):
            huge = operator.get(path, params={"offset": 180333090996994157295173632})
            assert huge.status_code == 412, (path, huge.text)
            assert problem(huge)["parameter"] == "offset"
        far = operator.get(
            "/customers/00000000-0000-0000-0000-000000000000/ledger", params={"before": 2**70}
        )
        assert far.status_code == 412 and problem(far)["parameter"] == "before"

    def test_bodies_take_json_booleans_and_iso_moments_only(self, operator: Operator) -> None:
        batch = operator.batch()
        for field, value in (("issue", 1), ("issue", "yes"), ("validFrom", 0.5)):
            body = {"code": "PRINTED-0001", field: value}
            refused = operator.post(f"/voucher-batches/{batch['id']}/vouchers", body)
            assert refused.status_code == 412, (field, value, refused.text)
            assert problem(refused)["parameter"] == field

    def test_get_by_code_accepts_how_a_cashier_types_it(self, operator: Operator) -> None:
        voucher = operator.certificate()
        typed = voucher["code"].lower()[:4] + "-" + voucher["code"].lower()[4:]
        assert operator.ok(operator.get(f"/vouchers/by-code/{typed}"))["id"] == voucher["id"]
        missing = operator.get("/vouchers/by-code/NOPE")
        assert missing.status_code == 404 and problem(missing)["code"] == 40462

    def test_issue_to_a_customer_void_and_their_audit_rows(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register(phone="+79990001122")
        batch = operator.batch(
            type="DISCOUNT", discountPercent=10, expiry={"type": "DYNAMIC", "days": 30}
        )
        [voucher] = operator.generate(batch["id"], 1, issue=False)
        issued = operator.ok(
            operator.post(f"/vouchers/{voucher['id']}/issue", {"customer": "8 999 000-11-22"})
        )
        assert issued["status"] == "ISSUED" and issued["customerId"] is not None
        assert issued["expiresAt"] is not None
        again = operator.ok(
            operator.post(f"/vouchers/{voucher['id']}/issue", {"customer": customer})
        )
        assert again["updatedAt"] == issued["updatedAt"]
        other = tenant.register()
        conflict = operator.post(f"/vouchers/{voucher['id']}/issue", {"customer": other})
        assert conflict.status_code == 409
        voided = operator.ok(operator.post(f"/vouchers/{voucher['id']}/void", {"reason": "ошибка"}))
        assert voided["status"] == "VOID"
        assert operator.ok(operator.post(f"/vouchers/{voucher['id']}/void", {}))["status"] == "VOID"
        refused = operator.post(f"/vouchers/{voucher['id']}/issue", {})
        assert refused.status_code == 412 and "аннулирован" in problem(refused)["detail"]
        log = operator.ok(
            operator.get("/audit", params={"entityType": "voucher", "entityId": voucher["id"]})
        )
        assert [entry["action"] for entry in log["items"]] == ["voucher.void", "voucher.issue"]
        void_entry = log["items"][0]
        assert (
            void_entry["before"]["status"] == "ISSUED" and void_entry["after"]["status"] == "VOID"
        )
        assert void_entry["actor"].startswith("operator-key:")

    def test_adjusting_a_balance_needs_a_key_and_applies_once(self, operator: Operator) -> None:
        card = operator.certificate(10_000)
        url = f"/vouchers/{card['id']}/adjust"
        assert problem(operator.post(url, {"amountMinor": 500, "reason": "x"}))["parameter"] == (
            "Idempotency-Key"
        )
        headers = {"Idempotency-Key": "topup-1"}
        first = operator.ok(
            operator.post(url, {"amountMinor": 500, "reason": "Подарок"}, headers=headers)
        )
        again = operator.ok(
            operator.post(url, {"amountMinor": 500, "reason": "Подарок"}, headers=headers)
        )
        assert first["voucher"]["balanceMinor"] == again["voucher"]["balanceMinor"] == 10_500
        assert (first["replayed"], again["replayed"]) == (False, True)
        too_much = operator.post(
            url, {"amountMinor": -20_000, "reason": "Списание"}, headers={"Idempotency-Key": "k2"}
        )
        assert too_much.status_code == 412 and problem(too_much)["code"] == 41263
        reused = operator.post(url, {"amountMinor": 1, "reason": "x"}, headers=headers)
        assert reused.status_code == 409

    def test_patch_extends_expiry_and_refuses_other_fields(self, operator: Operator) -> None:
        card = operator.certificate(expiry={"type": "DYNAMIC", "days": 10})
        patched = operator.ok(
            operator.client.patch(
                f"/vouchers/{card['id']}", json={"expiresAt": "2030-01-01T00:00:00Z", "note": "VIP"}
            )
        )
        assert patched["expiresAt"] == "2030-01-01T00:00:00Z" and patched["note"] == "VIP"
        refused = operator.client.patch(f"/vouchers/{card['id']}", json={"balanceMinor": 1})
        assert refused.status_code == 412

    def test_movements_show_the_running_balance(self, tenant: Tenant, operator: Operator) -> None:
        card = operator.certificate(10_000)
        sale = payloads.sale(
            payloads.new_id(),
            None,
            [payloads.position(PRODUCT, 1, 1000)],
            giftCards=[{"id": card["id"], "name": card["code"], "paymentSum": 2_500}],
        )
        assert tenant.post("/retaildemand", sale).status_code == 201
        items = operator.ok(operator.get(f"/vouchers/{card['id']}/movements"))["items"]
        assert [
            (item["kind"], item["amountMinor"], item["balanceAfterMinor"]) for item in items
        ] == [
            ("redeem", -2_500, 7_500),
            ("issue", 10_000, 10_000),
        ]


class TestSaleVouchers:
    @pytest.fixture
    def sale_id(self, tenant: Tenant, operator: Operator) -> str:
        customer = tenant.register()
        operator.personal(customer, discountPercent=10)
        cards = [operator.certificate(5_000), operator.certificate(3_000)]
        answer = tenant.recalc(payloads.recalc(customer, [payloads.position(PRODUCT, 1, 1000)]))
        sale_id = payloads.new_id()
        body = payloads.sale_from_recalc(
            sale_id,
            customer,
            answer,
            giftCards=[
                {"id": card["id"], "name": card["code"], "paymentSum": card["balanceMinor"]}
                for card in cards
            ],
        )
        assert tenant.post("/retaildemand", body).status_code == 201
        return sale_id

    def test_vouchers_tied_to_a_sale_page_and_sort(self, operator: Operator, sale_id: str) -> None:
        page = operator.ok(
            operator.get(
                f"/sales/{sale_id}/vouchers", params={"sort": "amountMinor", "direction": "desc"}
            )
        )
        assert page["total"] == 3
        assert [item["amountMinor"] for item in page["items"]] == [10_000, 5_000, 3_000]
        assert [item["voucher"]["type"] for item in page["items"]] == ["DISCOUNT", "GIFT", "GIFT"]
        second = operator.ok(
            operator.get(
                f"/sales/{sale_id}/vouchers",
                params={"sort": "amountMinor", "direction": "asc", "count": 1, "offset": 1},
            )
        )
        assert [item["amountMinor"] for item in second["items"]] == [5_000]
        assert operator.get("/sales/unknown/vouchers").status_code == 404


def test_every_new_api_is_documented_in_openapi(tenant: Tenant) -> None:
    schema = httpx.get(f"{tenant.server.base_url}/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/loyalty/giftcard",
        "/api/v1/voucher-batches",
        "/api/v1/vouchers",
        "/api/v1/sales/{sale_id}/vouchers",
        "/api/v1/audit",
        "/compat/enactor/loyalty/voucherSerialNumber/pos/trackedUpdate",
        "/compat/revenue-monster/v3/voucher/{code}",
        "/compat/smart-loyalty/api/sale/saveVoucher",
        "/compat/carecloud/purchases/{purchase_id}/vouchers",
    } <= paths
    assert {"OperatorKey", "OperatorKeyHeader"} <= set(schema["components"]["securitySchemes"])
