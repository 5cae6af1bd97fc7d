"""Enactor's voucher serial number POS API, answered in Enactor's shapes (seed 004)."""

from __future__ import annotations

import copy
import re
from typing import Any

import httpx
import pytest

from loyalty.operators.schemas import Role
from tests.compat import seed_examples as seed
from tests.conftest import Tenant
from tests.support.vouchers import Operator, operator_key


@pytest.fixture
def pos(tenant: Tenant, operator: Operator) -> httpx.Client:
    """Enactor's POS: Basic authentication with an operator key as the password."""
    operator.batch(code="UK-GV", type="GIFT", faceValueMinor=10_000, currency="GBP")
    client = httpx.Client(
        base_url=f"{tenant.server.base_url}/compat/enactor/loyalty/voucherSerialNumber/pos",
        auth=("enactor", operator_key(tenant, Role.operator)),
        timeout=30,
    )
    tenant.extra_clients.append(client)
    return client


def created(pos: httpx.Client, serial: str, value: int) -> None:
    body = copy.deepcopy(seed.ENACTOR_UPDATE)
    body["voucherSerialNumberKey"]["serialNumber"] = serial
    body["voucherValue"] = value
    assert pos.post("/update", json=body).json()["outcome"] == {"name": "Success"}


def enquiry_of(pos: httpx.Client, serial: str = "0101249180222154821269") -> dict[str, Any]:
    body = seed.ENACTOR_ENQUIRY | {"serialNumber": serial}
    answer: dict[str, Any] = pos.post("/enquiry", json=body).json()
    return answer


class TestSeedExamples:
    def test_update_creates_and_issues_the_voucher(self, pos: httpx.Client) -> None:
        response = pos.post("/update", json=seed.ENACTOR_UPDATE)
        assert response.status_code == 200
        answer = response.json()
        update_id = answer["voucherSerialNumberUpdate"]["voucherSerialNumberUpdate"]["updateId"]
        assert re.fullmatch(r"\d{14}", update_id)
        expected = copy.deepcopy(seed.ENACTOR_UPDATE_RESPONSE)
        expected["voucherSerialNumberUpdate"]["voucherSerialNumberUpdate"]["updateId"] = update_id
        assert answer == expected
        assert enquiry_of(pos, "0596062241001135745013")["voucherSerialNumber"]["value"] == 5000

    def test_enquiry_answers_the_documented_response(self, pos: httpx.Client) -> None:
        created(pos, "0101249180222154821269", 10_000)
        answer = enquiry_of(pos)
        assert isinstance(answer["voucherSerialNumber"]["lastUpdated"], int)
        answer["voucherSerialNumber"]["lastUpdated"] = 1727759779824
        assert answer == seed.ENACTOR_ENQUIRY_RESPONSE

    def test_matching_enquiry_answers_the_documented_response(self, pos: httpx.Client) -> None:
        created(pos, "0101249180222154821269", 10_000)
        response = pos.post("/matchingEnquiry", json=seed.ENACTOR_MATCHING)
        assert response.json() == seed.ENACTOR_MATCHING_RESPONSE

    def test_tracked_update_redeems_once_and_answers_the_documented_response(
        self, pos: httpx.Client, operator: Operator
    ) -> None:
        created(pos, "0101249180222154821269", 10_000)
        first = pos.post("/trackedUpdate", json=seed.ENACTOR_TRACKED)
        again = pos.post("/trackedUpdate", json=seed.ENACTOR_TRACKED)
        assert first.json() == again.json() == seed.ENACTOR_TRACKED_RESPONSE
        voucher = operator.ok(operator.get("/vouchers/by-code/0101249180222154821269"))
        assert (voucher["status"], voucher["balanceMinor"], voucher["usedCount"]) == (
            "REDEEMED",
            0,
            1,
        )
        movements = operator.ok(operator.get(f"/vouchers/{voucher['id']}/movements"))["items"]
        assert movements[0]["retailStoreId"] == "0005"
        assert movements[0]["document"] == "00050796000602410011351042"
        assert enquiry_of(pos)["voucherSerialNumber"]["status"] == "REDEEMED"


class TestOutcomes:
    def test_unknown_serial_is_not_found(self, pos: httpx.Client) -> None:
        assert enquiry_of(pos, "9999") == {"outcome": {"name": "NotFound"}}
        response = pos.post("/matchingEnquiry", json=seed.ENACTOR_MATCHING | {"serialNumber": "9"})
        assert response.json()["list"] == []

    def test_a_second_line_redeeming_a_redeemed_voucher_fails(self, pos: httpx.Client) -> None:
        created(pos, "0101249180222154821269", 10_000)
        assert pos.post("/trackedUpdate", json=seed.ENACTOR_TRACKED).status_code == 200
        other_line = seed.ENACTOR_TRACKED | {"basketLineNumber": 3}
        answer = pos.post("/trackedUpdate", json=other_line).json()
        assert answer["outcome"] == {"name": "Fail"} and "использован" in answer["message"]

    def test_voiding_the_basket_line_gives_the_value_back(
        self, pos: httpx.Client, operator: Operator
    ) -> None:
        created(pos, "0101249180222154821269", 10_000)
        assert pos.post("/trackedUpdate", json=seed.ENACTOR_TRACKED).status_code == 200
        voided = seed.ENACTOR_TRACKED | {"updateStatus": "VOIDED"}
        assert pos.post("/trackedUpdate", json=voided).json()["outcome"] == {"name": "Success"}
        voucher = operator.ok(operator.get("/vouchers/by-code/0101249180222154821269"))
        assert (voucher["status"], voucher["balanceMinor"]) == ("ISSUED", 10_000)

    def test_wrong_currency_or_type_fails_and_creates_nothing(
        self, pos: httpx.Client, operator: Operator
    ) -> None:
        body = copy.deepcopy(seed.ENACTOR_UPDATE) | {"currencyId": "EUR"}
        assert pos.post("/update", json=body).json()["outcome"] == {"name": "Fail"}
        body = copy.deepcopy(seed.ENACTOR_UPDATE)
        body["voucherSerialNumberKey"]["voucherTypeId"]["voucherTypeId"] = "UK-XX"
        assert pos.post("/update", json=body).json()["outcome"] == {"name": "Fail"}
        assert operator.ok(operator.get("/vouchers"))["total"] == 0

    def test_a_read_only_key_cannot_update_and_no_key_is_refused(
        self, tenant: Tenant, pos: httpx.Client
    ) -> None:
        url = str(pos.base_url).rstrip("/") + "/update"
        refused = httpx.post(url, json=seed.ENACTOR_UPDATE)
        assert refused.status_code == 401
        assert refused.json()["outcome"] == {"name": "Fail"} and refused.json()["code"] == 40160
        reader = httpx.post(
            url, json=seed.ENACTOR_UPDATE, auth=("x", operator_key(tenant, Role.read_only))
        )
        assert reader.status_code == 403

    def test_malformed_request_answers_in_enactor_shape(self, pos: httpx.Client) -> None:
        response = pos.post("/enquiry", json={"serialNumber": ""})
        assert response.status_code == 412
        assert response.json()["outcome"] == {"name": "Fail"}
