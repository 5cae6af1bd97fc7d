"""Smart Loyalty's save-voucher and voucher-list calls, in its envelope (seed 000)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from loyalty.operators.schemas import Role
from tests.compat import seed_examples as seed
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.vouchers import Operator, operator_key


@pytest.fixture
def smart(tenant: Tenant, operator: Operator) -> httpx.Client:
    operator.batch(code="001", type="CASH", faceValueMinor=100, name="Smart")
    client = httpx.Client(
        base_url=f"{tenant.server.base_url}/compat/smart-loyalty/api/sale",
        headers={"Authorization": f"Bearer {operator_key(tenant, Role.operator)}"},
        timeout=30,
    )
    tenant.extra_clients.append(client)
    return client


def save(smart: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    # The seed documents saveVoucher as a GET with a JSON body.
    return smart.request("GET", "/saveVoucher", json=body)


def test_seed_example_saves_and_answers_in_the_documented_envelope(
    smart: httpx.Client, operator: Operator
) -> None:
    response = save(smart, seed.SMART_SAVE)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == set(seed.SMART_SAVE_RESPONSE)
    assert {key: answer[key] for key in ("Success", "Message", "ErrorCode", "ExceptionType")} == {
        "Success": True,
        "Message": None,
        "ErrorCode": None,
        "ExceptionType": None,
    }
    [row] = answer["Data"]["Table"]
    assert set(row) == {"PkId", "Id"} and row["Id"] == "2025052201"
    assert isinstance(row["PkId"], int)
    voucher = operator.ok(operator.get("/vouchers/by-code/2025052201"))
    assert (voucher["type"], voucher["hasBalance"], voucher["balanceMinor"]) == (
        "CASH",
        True,
        500_000,
    )
    assert (voucher["usageLimit"], voucher["maxUsePercent"], voucher["pinProtected"]) == (
        3,
        50,
        True,
    )
    assert voucher["expiresAt"] == "2026-01-01T00:00:00Z"
    again = save(smart, seed.SMART_SAVE).json()
    assert again["Data"]["Table"] == [row]
    assert operator.ok(operator.get("/vouchers"))["total"] == 1


def test_post_works_too_and_the_list_shows_saved_terms(tenant: Tenant, smart: httpx.Client) -> None:
    customer = tenant.register()
    body = {
        "Voucher": [
            {
                "id": "P-1",
                "customerPkId": customer,
                "voucherGroupId": "001",
                "percent": 15,
                "usageCount": 2,
                "expireDate": "2030/01/31",
            },
            {"id": "A-1", "voucherGroupId": "001", "amount": 300, "hasBalance": "N"},
        ]
    }
    assert smart.post("/saveVoucher", json=body).json()["Success"] is True
    table = smart.get("/voucherList", params={"voucherGroupId": "001"}).json()["Data"]["Table"]
    by_id = {row["id"]: row for row in table}
    assert by_id["P-1"] | {"PkId": 0, "customerPkId": None} == {
        "PkId": 0,
        "id": "P-1",
        "customerPkId": None,
        "voucherGroupId": "001",
        "percent": 15,
        "amount": 0,
        "balance": 0,
        "expireDate": "2030/01/31",
        "usageCount": 2,
        "usedCount": 0,
        "hasBalance": "N",
        "maxUsePercent": 0,
        "hasPassword": "N",
        "status": "ISSUED",
    }
    assert by_id["A-1"]["amount"] == 300 and by_id["A-1"]["customerPkId"] is None
    mine = smart.get("/voucherList", params={"customerPkId": customer}).json()["Data"]["Table"]
    assert [row["id"] for row in mine] == ["P-1"]


def test_a_saved_voucher_with_a_password_is_not_applied_automatically(
    tenant: Tenant, smart: httpx.Client
) -> None:
    customer = tenant.register()
    with_pin = {
        "id": "PIN-1",
        "customerPkId": customer,
        "voucherGroupId": "001",
        "percent": 50,
        "password": 1234,
    }
    without = {"id": "OPEN-1", "customerPkId": customer, "voucherGroupId": "001", "percent": 10}
    assert save(smart, {"Voucher": [with_pin, without]}).json()["Success"] is True
    answer = tenant.recalc(payloads.recalc(customer, [payloads.position(quantity=1, price=1000)]))
    paid = sum(
        Decimal(str(item["quantity"])) * Decimal(str(item["discountedPrice"]))
        for item in answer["positions"]
    )
    assert paid == Decimal(900)


def test_errors_answer_in_the_smart_loyalty_envelope(smart: httpx.Client) -> None:
    body = {"Voucher": [{"id": "X", "voucherGroupId": "999", "amount": 1}]}
    response = save(smart, body)
    assert response.status_code == 404
    assert response.json() | {"Message": None} == {
        "Success": False,
        "Message": None,
        "ErrorCode": 40461,
        "ExceptionType": "BatchNotFound",
        "Data": None,
    }
    changed = seed.SMART_SAVE["Voucher"][0] | {"amount": 7000}
    assert save(smart, seed.SMART_SAVE).status_code == 200
    refused = save(smart, {"Voucher": [changed]})
    assert refused.status_code == 412 and refused.json()["Success"] is False
