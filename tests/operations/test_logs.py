"""Logs: one JSON object per line, the request id (echoed in X-Request-ID), account and
endpoint on every line of a request, and no personal data, even when requests carry it."""

from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loyalty.config import Settings
from loyalty.main import create_app
from loyalty.observability.logs import build_handler
from loyalty.observability.pii import MASK, mask_fields, mask_text
from tests.conftest import TOKEN_HEADER, Tenant
from tests.support import payloads
from tests.support.server import LiveServer

# One customer's personal data, in the shapes the till sends it.
NAME_FIRST, NAME_LAST, NAME_MIDDLE = "Зинаида", "Пуговкина", "Аристарховна"
PHONE_FORMATTED = "+7 (912) 345-67-89"
PHONE_DIGITS = "9123456789"
EMAIL = "zinaida.pugovkina@example.ru"
BIRTH_DATE = "1987-03-14"
CARD = "4600000012345"
PERSONAL_STRINGS = (
    NAME_FIRST,
    NAME_LAST,
    NAME_MIDDLE,
    EMAIL,
    "zinaida.pugovkina",
    BIRTH_DATE,
    "14.03.1987",
    CARD,
    PHONE_FORMATTED,
    "912) 345-67-89",
    "345-67-89",
    "+7" + PHONE_DIGITS,
    "8" + PHONE_DIGITS,
    PHONE_DIGITS,
)


class CapturedLogs:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """The production handler (JSON, context, masking) on the root logger, at INFO."""
    captured = CapturedLogs()
    handler = build_handler(Settings(DATABASE_URL="postgresql://unused/unused"), captured.stream)
    # The test's own HTTP client logs its requests; only the service's lines are under test.
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def personal_data_in(text: str) -> list[str]:
    return [needle for needle in PERSONAL_STRINGS if needle.lower() in text.lower()]


class TestRequestIds:
    def test_every_response_carries_one_and_a_sane_incoming_one_is_kept(
        self, server: LiveServer
    ) -> None:
        generated = httpx.get(f"{server.base_url}/healthz").headers["X-Request-ID"]
        assert len(generated) == 32 and int(generated, 16) >= 0
        kept = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": "lb-7f3a.91:2"})
        assert kept.headers["X-Request-ID"] == "lb-7f3a.91:2"

    @pytest.mark.parametrize(
        "incoming", ["", "a" * 129, "id with spaces", 'x"}{"level":"error', "../../etc"]
    )
    def test_an_unsafe_incoming_id_is_replaced(self, server: LiveServer, incoming: str) -> None:
        response = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": incoming})
        assert response.headers["X-Request-ID"] != incoming
        assert len(response.headers["X-Request-ID"]) == 32

    def test_errors_carry_it_too(self, server: LiveServer, tenant: Tenant) -> None:
        for response in (
            tenant.post("/retaildemand/recalc", {"positions": "nope"}),
            httpx.get(f"{server.base_url}/loyalty/nowhere"),
            httpx.post(f"{server.base_url}/loyalty/counterparty", json={}),
        ):
            assert response.status_code >= 400 and len(response.headers["X-Request-ID"]) == 32


class TestAccessLog:
    def test_one_json_line_per_request_with_id_account_endpoint_and_status(
        self, captured_logs: CapturedLogs, tenant: Tenant
    ) -> None:
        request_id = uuid.uuid4().hex
        response = tenant.post(
            "/retaildemand/recalc",
            payloads.recalc(None, [payloads.position(price=100)]),
            headers={"X-Request-ID": request_id},
        )
        assert response.status_code == 200
        # The access line is written once the response has gone out, so the client can be
        # faster than the log; other servers of the test process may log meanwhile too.
        deadline = time.monotonic() + 5
        while True:
            access = [
                line
                for line in captured_logs.lines()
                if line["logger"] == "loyalty.access" and line.get("request_id") == request_id
            ]
            if access or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert len(access) == 1
        line = access[0]
        assert line["account_id"] == str(tenant.account_id)
        assert line["endpoint"] == "POST /loyalty/retaildemand/recalc"
        assert line["status"] == 200 and line["duration_ms"] > 0
        assert line["level"] == "info" and line["ts"].endswith("+00:00")

    def test_can_be_switched_off(self, captured_logs: CapturedLogs, app_settings: Settings) -> None:
        settings = Settings(DATABASE_URL=app_settings.DATABASE_URL, ENV="test", ACCESS_LOG=False)
        with LiveServer(create_app(settings)) as quiet:
            assert httpx.get(f"{quiet.base_url}/loyalty/nowhere").status_code == 404
        assert not [line for line in captured_logs.lines() if line["logger"] == "loyalty.access"]


class TestNoPersonalData:
    def test_a_customers_whole_day_leaves_no_personal_data_in_the_logs(
        self, captured_logs: CapturedLogs, tenant: Tenant
    ) -> None:
        tenant.set_program(welcome_bonus_points=100, earn_percent=10)
        ms_id = payloads.new_id()
        personal = {
            "name": f"{NAME_LAST} {NAME_FIRST} {NAME_MIDDLE}",
            "phone": PHONE_FORMATTED,
            "email": EMAIL,
            "discountCardNumber": CARD,
            "legalFirstName": NAME_FIRST,
            "legalLastName": NAME_LAST,
            "legalMiddleName": NAME_MIDDLE,
            "birthDate": f"{BIRTH_DATE} 00:00:00",
            "sex": "FEMALE",
        }
        responses = [
            tenant.post("/counterparty", payloads.counterparty(ms_id, **personal)),
            tenant.post("/counterparty", payloads.counterparty(ms_id, **personal)),
            tenant.post(
                "/counterparty/verify", {"retailStore": payloads.store(), "phone": PHONE_FORMATTED}
            ),
        ]
        for search in (PHONE_FORMATTED, "8" + PHONE_DIGITS, NAME_LAST, EMAIL, CARD):
            responses.append(
                tenant.client.get(
                    "/counterparty", params={"search": search, "retailStoreId": payloads.STORE_ID}
                )
            )
        sale_id, answer = tenant.buy(ms_id, [payloads.position(price=500)], spending=False)
        responses += [
            tenant.post("/retaildemand", payloads.sale_from_recalc(sale_id, ms_id, answer)),
            tenant.post("/counterparty/detail", {"meta": payloads.meta("counterparty", ms_id)}),
            # Refused requests echo nothing of what they carried into the log either.
            tenant.post(
                "/counterparty",
                payloads.counterparty(
                    payloads.new_id(), **(personal | {"birthDate": "14.03.1987"})
                ),
            ),
            tenant.post("/retaildemand/recalc", {"agent": personal, "positions": [{}]}),
            tenant.new_client("wrong-token").post("/counterparty", json=personal),
        ]
        assert [response.status_code for response in responses[:2]] == [201, 201]
        assert {response.status_code for response in responses} <= {200, 201, 401, 412}
        lines = captured_logs.lines()
        assert len(lines) >= len(responses)
        assert [line for line in lines if not line.get("request_id")] == []
        assert personal_data_in(captured_logs.text()) == []
        codes = [line for line in lines if line["logger"] == "loyalty.verification"]
        assert codes and codes[0]["endpoint"] == "POST /loyalty/counterparty/verify"

    def test_failures_are_masked_even_when_the_exception_carries_personal_data(
        self, captured_logs: CapturedLogs, app_settings: Settings, tenant: Tenant
    ) -> None:
        app = create_app(Settings(DATABASE_URL=app_settings.DATABASE_URL, ENV="test"))

        @app.get("/broken")
        async def broken() -> None:
            logging.getLogger("loyalty.example").warning(
                "looking up %s", PHONE_FORMATTED, extra={"customer_name": NAME_LAST}
            )
            raise RuntimeError(f"no customer {EMAIL} born {BIRTH_DATE}, phone 8{PHONE_DIGITS}")

        with LiveServer(app) as live:
            response = httpx.get(f"{live.base_url}/broken", headers={TOKEN_HEADER: tenant.token})
        assert response.status_code == 500
        errors = [line for line in captured_logs.lines() if line["level"] == "error"]
        assert len(errors) == 1 and "RuntimeError" in errors[0]["exception"]
        assert errors[0]["request_id"] == response.headers["X-Request-ID"]
        assert personal_data_in(captured_logs.text()) == []


class TestMasking:
    @pytest.mark.parametrize(
        "text",
        [
            "+7 (912) 345-67-89",
            "89123456789",
            "8-912-345-67-89",
            "tel:+79123456789",
            "+44 20 7946 0958",
            "zinaida.pugovkina+loyalty@example.co.uk",
            "1987-03-14",
            "1987-03-14 00:00:00",
            "14.03.1987",
            "4600000012345",
        ],
    )
    def test_masks_personal_data_in_any_notation(self, text: str) -> None:
        masked = mask_text(f"before {text} after")
        assert masked.startswith("before ") and masked.endswith(" after")
        assert not re.search(r"\d{3,}", masked) and "@" not in masked

    @pytest.mark.parametrize(
        "text",
        [
            "8e9bcf2a-8725-4c12-9a00-123456789012",
            "12345678-1234-1234-1234-123456789012",
            "2026-11-22T10:00:00.123+00:00",
            "127.0.0.1:5432",
            "took 12.5 ms",
            "sale 42 of 1000, 3 lines",
            "SQLSTATE 55P03",
        ],
    )
    def test_keeps_what_is_not_personal(self, text: str) -> None:
        assert mask_text(text) == text

    def test_personal_fields_are_masked_by_name_whatever_they_hold(self) -> None:
        masked = mask_fields(
            {"customer_name": "Зина", "nested": {"birthDate": "x"}, "status": 201, "phone": None}
        )
        assert masked == {
            "customer_name": MASK,
            "nested": {"birthDate": MASK},
            "status": 201,
            "phone": None,
        }
