"""Simultaneous tills against one real server: a code is never used twice, a certificate never
overdrawn, a batch limit never exceeded."""

from __future__ import annotations

import asyncio
import copy
import os
from typing import Any

import httpx
import pytest

from loyalty.operators.schemas import Role
from tests.compat import seed_examples as seed
from tests.conftest import TOKEN_HEADER, Tenant
from tests.support import payloads
from tests.support.vouchers import Operator, operator_client, operator_key

pytestmark = pytest.mark.concurrency

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"
TILLS = 20


async def post_all(
    base_url: str, headers: dict[str, str], path: str, bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=60,
        limits=httpx.Limits(max_connections=len(bodies)),
    ) as client:
        return await asyncio.gather(*(client.post(path, json=body) for body in bodies))


def tills(tenant: Tenant, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    return asyncio.run(
        post_all(
            f"{tenant.server.base_url}/loyalty",
            {TOKEN_HEADER: tenant.token},
            "/retaildemand",
            bodies,
        )
    )


def enactor_redemption(serial: str, transaction: int) -> dict[str, Any]:
    body = copy.deepcopy(seed.ENACTOR_TRACKED)
    body["transactionId"] = f"T{transaction:05d}"
    body["voucherSerialNumberKey"]["serialNumber"] = serial
    body["voucherSerialNumberKey"]["voucherTypeId"]["voucherTypeId"] = "ONCE"
    body["currencyId"] = "RUB"
    body["voucherValue"] = 0
    return body


def enactor_tills(tenant: Tenant, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    key = operator_key(tenant, Role.operator)
    return asyncio.run(
        post_all(
            f"{tenant.server.base_url}/compat/enactor/loyalty/voucherSerialNumber/pos",
            {"Authorization": f"Bearer {key}"},
            "/trackedUpdate",
            bodies,
        )
    )


def outcomes(responses: list[httpx.Response]) -> list[str]:
    assert all(response.status_code == 200 for response in responses)
    return sorted(response.json()["outcome"]["name"] for response in responses)


class TestOneCode:
    def test_twenty_tills_redeeming_one_single_use_code_win_once(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        batch = operator.batch(code="ONCE", type="CASH", faceValueMinor=50_000)
        [voucher] = operator.generate(batch["id"])
        bodies = [enactor_redemption(voucher["code"], n) for n in range(TILLS)]
        assert outcomes(enactor_tills(tenant, bodies)) == ["Fail"] * (TILLS - 1) + ["Success"]
        after = operator.voucher(voucher["id"])
        assert (after["usedCount"], after["status"]) == (1, "REDEEMED")
        movements = operator.ok(operator.get(f"/vouchers/{voucher['id']}/movements"))["items"]
        assert [item["kind"] for item in movements] == ["redeem", "issue"]

    def test_twenty_tills_committing_one_personal_voucher_use_it_once(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        [voucher] = operator.personal(customer, discountPercent=10)
        answer = tenant.recalc(payloads.recalc(customer, [payloads.position(PRODUCT, 1, 1000)]))
        bodies = [
            payloads.sale_from_recalc(payloads.new_id(), customer, answer) for _ in range(TILLS)
        ]
        responses = tills(tenant, bodies)
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [412] * (TILLS - 1), statuses
        assert {
            response.json()["errors"][0]["code"]
            for response in responses
            if response.status_code == 412
        } == {41266}
        assert operator.voucher(voucher["id"])["usedCount"] == 1
        assert tenant.balance(customer) == 45


class TestOneCertificate:
    @pytest.mark.parametrize(("balance_minor", "payment_minor"), [(10_000, 1_500), (9_999, 700)])
    def test_twenty_tills_drawing_one_certificate_never_overdraw_it(
        self, tenant: Tenant, operator: Operator, balance_minor: int, payment_minor: int
    ) -> None:
        card = operator.certificate(balance_minor)
        bodies = [
            payloads.sale(
                payloads.new_id(),
                None,
                [payloads.position(PRODUCT, 1, 100)],
                giftCards=[{"id": card["id"], "name": card["code"], "paymentSum": payment_minor}],
            )
            for _ in range(TILLS)
        ]
        responses = tills(tenant, bodies)
        accepted = sum(response.status_code == 201 for response in responses)
        assert accepted == min(TILLS, balance_minor // payment_minor)
        assert all(
            response.json()["errors"][0]["code"] == 41263
            for response in responses
            if response.status_code != 201
        )
        assert (
            operator.voucher(card["id"])["balanceMinor"] == balance_minor - accepted * payment_minor
        )
        paid = tenant.db.scalar(
            "SELECT -sum(amount_minor) FROM voucher_movement"
            " WHERE account_id = :a AND kind = 'redeem'",
            a=tenant.account_id,
        )
        assert paid == accepted * payment_minor <= balance_minor


class TestBatchLimit:
    def test_a_batch_limit_holds_across_twenty_tills_using_different_codes(
        self, tenant: Tenant
    ) -> None:
        operator = operator_client(tenant)
        batch = operator.batch(code="ONCE", type="CASH", faceValueMinor=10_000, usageLimit=5)
        vouchers = operator.generate(batch["id"], TILLS)
        bodies = [enactor_redemption(voucher["code"], n) for n, voucher in enumerate(vouchers)]
        assert outcomes(enactor_tills(tenant, bodies)) == ["Fail"] * (TILLS - 5) + ["Success"] * 5
        assert operator.ok(operator.get(f"/voucher-batches/{batch['id']}"))["usedCount"] == 5


class TestCertificateDoubleSpendBattery:
    """50 tills each try to pay 60 % of one certificate at once, round after round: exactly one
    wins, the others get a clean 412, never a server error."""

    def test_exactly_one_wins_every_round(self, tenant: Tenant, operator: Operator) -> None:
        rounds = 200 if os.environ.get("CHAOS_SCALE") == "full" else 5
        for _ in range(rounds):
            card = operator.certificate(10_000)
            bodies = [
                payloads.sale(
                    payloads.new_id(),
                    None,
                    [payloads.position(PRODUCT, 1, 100)],
                    giftCards=[{"id": card["id"], "name": card["code"], "paymentSum": 6_000}],
                )
                for _ in range(50)
            ]
            statuses = [response.status_code for response in tills(tenant, bodies)]
            assert statuses.count(201) == 1 and statuses.count(412) == 49, statuses
            assert operator.voucher(card["id"])["balanceMinor"] == 4_000
