"""Revenue Monster's "Get Voucher By Code", answered in its shape (seed 002)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from loyalty.operators.schemas import Role
from tests.compat import seed_examples as seed
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.vouchers import Operator, operator_key

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture
def rm(tenant: Tenant) -> httpx.Client:
    client = httpx.Client(
        base_url=f"{tenant.server.base_url}/compat/revenue-monster/v3",
        headers={"Authorization": f"Bearer {operator_key(tenant, Role.read_only)}"},
        timeout=30,
    )
    tenant.extra_clients.append(client)
    return client


def keys(value: dict[str, Any]) -> set[str]:
    return set(value)


def test_used_gift_voucher_answers_in_the_documented_shape(
    tenant: Tenant, operator: Operator, rm: httpx.Client
) -> None:
    batch = operator.batch(
        type="GIFT", faceValueMinor=5_000, expiry={"type": "DYNAMIC", "days": 100}
    )
    voucher = operator.ok(
        operator.post(
            f"/voucher-batches/{batch['id']}/vouchers", {"code": "NAklEfbVdV", "note": "oijfge"}
        ),
        201,
    )
    sale = payloads.sale(
        payloads.new_id(),
        None,
        [payloads.position(quantity=1, price=50)],
        giftCards=[{"id": voucher["id"], "name": "NAklEfbVdV", "paymentSum": 5_000}],
    )
    assert tenant.post("/retaildemand", sale).status_code == 201
    response = rm.post("/voucher/NAklEfbVdV", json={})
    assert response.status_code == 200
    answer = response.json()
    expected = seed.REVENUE_MONSTER_RESPONSE
    assert keys(answer) == keys(expected) and answer["code"] == "SUCCESS"
    item = answer["item"]
    assert keys(item) == keys(expected["item"])
    assert keys(item["expiry"]) == keys(expected["item"]["expiry"])
    assert (item["code"], item["type"], item["status"], item["label"]) == (
        "NAklEfbVdV",
        "GIFT",
        "VOID",
        "oijfge",
    )
    assert item["expiry"]["type"] == "DYNAMIC" and item["expiry"]["day"] == 100
    assert item["key"] == voucher["id"] and item["voucherBatchKey"] == batch["id"]
    assert item["origin"] == "SELF" and item["amount"] == 0
    for field in ("assignedAt", "usedAt", "createdAt", "updatedAt"):
        assert RFC3339.match(item[field]), item[field]
    assert item["expiry"]["expiredAt"] != "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("arrange", "status"),
    [("new", "VALID"), ("issued", "ISSUED"), ("personal", "REDEEMED"), ("void", "VOID")],
)
def test_statuses_map_to_revenue_monsters_lifecycle(
    tenant: Tenant, operator: Operator, rm: httpx.Client, arrange: str, status: str
) -> None:
    batch = operator.batch(type="DISCOUNT", discountPercent=15, minSpendMinor=10_000)
    [voucher] = operator.generate(batch["id"], 1, issue=arrange != "new")
    if arrange == "personal":
        operator.ok(
            operator.post(f"/vouchers/{voucher['id']}/issue", {"customer": tenant.register()})
        )
    if arrange == "void":
        operator.ok(operator.post(f"/vouchers/{voucher['id']}/void", {}))
    item = rm.post(f"/voucher/{voucher['code']}", json={}).json()["item"]
    assert item["status"] == status
    assert (item["type"], item["discountRate"], item["minimumSpendAmount"]) == (
        "DISCOUNT",
        1500,
        10_000,
    )
    if arrange == "new":
        assert item["assignedAt"] == "0001-01-01T00:00:00Z"


def test_unknown_code_is_voucher_not_found(rm: httpx.Client) -> None:
    response = rm.post("/voucher/NOPE", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "VOUCHER_NOT_FOUND"
    unauthorised = httpx.post(str(rm.base_url).rstrip("/") + "/voucher/NOPE", json={})
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["code"] == "UNAUTHORIZED"
