"""CareCloud's "vouchers tied to a purchase", with paging, sorting and 429 (seed 003)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from loyalty.common.clock import Clock
from loyalty.operators.schemas import Role
from tests.compat import seed_examples as seed
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.payloads import STORE_ID
from tests.support.vouchers import Operator, operator_key

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"


@pytest.fixture
def carecloud(tenant: Tenant) -> httpx.Client:
    client = httpx.Client(
        base_url=f"{tenant.server.base_url}/compat/carecloud",
        auth=("carecloud", operator_key(tenant, Role.read_only)),
        headers={"Accept-Language": "cs, en-gb;q=0.8"},
        timeout=30,
    )
    tenant.extra_clients.append(client)
    return client


@pytest.fixture
def purchase(tenant: Tenant, operator: Operator) -> str:
    customer = tenant.register()
    operator.personal(customer, discountPercent=10)
    cards = [operator.certificate(20_000), operator.certificate(5_000)]
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


def vouchers(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data"} and set(body["data"]) == {"vouchers", "total_items"}
    items: list[dict[str, Any]] = body["data"]["vouchers"]
    return items


def test_vouchers_of_a_purchase_have_the_documented_fields(
    carecloud: httpx.Client, purchase: str
) -> None:
    response = carecloud.get(f"/purchases/{purchase}/vouchers")
    items = vouchers(response)
    assert response.json()["data"]["total_items"] == 3
    for item in items:
        assert tuple(item) == seed.CARECLOUD_VOUCHER_FIELDS
        assert item["store_id"] == STORE_ID and item["state"] in (1, 2)
        assert len(item["applied_date"]) == 19
    assert sorted(item["value"] for item in items) == [50.0, 100.0, 200.0]


def test_paging_and_sorting(carecloud: httpx.Client, purchase: str) -> None:
    url = f"/purchases/{purchase}/vouchers"
    by_value = vouchers(
        carecloud.get(url, params={"sort_field": "value", "sort_direction": "DESC"})
    )
    assert [item["value"] for item in by_value] == [200.0, 100.0, 50.0]
    page = vouchers(
        carecloud.get(url, params={"sort": "value", "direction": "ASC", "count": 1, "offset": 1})
    )
    assert [item["value"] for item in page] == [100.0]
    bad = carecloud.get(url, params={"sort_field": "nope"})
    assert bad.status_code == 412 and set(bad.json()["error"]) == {
        "type",
        "exception",
        "title",
        "detail",
    }


def test_beyond_the_rate_limit_is_429_until_the_window_passes(
    tenant: Tenant, carecloud: httpx.Client, purchase: str, clock: Clock
) -> None:
    url = f"/purchases/{purchase}/vouchers"
    assert carecloud.get(url).status_code == 200
    tenant.db.fetch(
        "UPDATE client_throttle SET hits = 600 WHERE account_id = :a AND scope = 'rate_limit'"
        " RETURNING hits",
        a=tenant.account_id,
    )
    limited = carecloud.get(url)
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"]["exception"] == "RateLimited"
    clock.advance(timedelta(seconds=61))
    assert carecloud.get(url).status_code == 200


def test_unknown_purchase_is_404(carecloud: httpx.Client) -> None:
    response = carecloud.get("/purchases/unknown/vouchers")
    assert response.status_code == 404 and response.json()["error"]["exception"] == "SaleNotFound"
