"""Verification codes: delivery, cooldown, daily cap."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from loyalty.common.clock import Clock
from loyalty.config import Settings, SmsSenderKind
from loyalty.main import create_app
from tests.conftest import Tenant, assert_ledger_consistent, create_tenant
from tests.support import payloads
from tests.support.db import Database
from tests.support.fakes import FakeSmsGateway
from tests.support.server import LiveServer


def ask_registration_code(tenant: Tenant, phone: str | None) -> tuple[int, dict[str, object]]:
    body = payloads.counterparty(
        None, meta={"href": "https://x/posap/1.0/entity/counterparty/syncid/1"}
    )
    if phone is not None:
        body["phone"] = phone
    response = tenant.post("/counterparty/verify", body)
    return response.status_code, response.json()


class TestCooldownAndCap:
    def test_repeat_inside_the_cooldown_is_429_with_seconds_left(
        self, tenant: Tenant, clock: Clock
    ) -> None:
        status, answer = ask_registration_code(tenant, "+79011231122")
        assert status == 200 and answer["timeForRepeat"] == 60
        clock.advance(timedelta(seconds=20))
        response = tenant.post(
            "/counterparty/verify",
            payloads.counterparty(None, phone="8 901 123-11-22", meta={"href": "h"}),
        )
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "40"
        assert "40 с" in response.json()["errors"][0]["error_message"]
        clock.advance(timedelta(seconds=40))
        assert ask_registration_code(tenant, "+79011231122")[0] == 200

    def test_daily_cap_per_phone(self, tenant: Tenant, clock: Clock) -> None:
        for _ in range(5):
            assert ask_registration_code(tenant, "+79011231199")[0] == 200
            clock.advance(timedelta(minutes=2))
        status, answer = ask_registration_code(tenant, "+79011231199")
        assert status == 429 and answer["errors"][0]["code"] == 42902  # type: ignore[index]
        assert (
            ask_registration_code(tenant, "+79011231100")[0] == 200
        )  # another phone is unaffected
        clock.advance(timedelta(days=1))
        assert ask_registration_code(tenant, "+79011231199")[0] == 200

    def test_daily_cap_per_store(self, tenant: Tenant, server: LiveServer) -> None:
        settings = server.app.state.settings
        original = settings.VERIFICATION_DAILY_CAP_PER_STORE
        settings.VERIFICATION_DAILY_CAP_PER_STORE = 3
        try:
            answers = [ask_registration_code(tenant, f"+7901123456{index}") for index in range(4)]
        finally:
            settings.VERIFICATION_DAILY_CAP_PER_STORE = original
        assert [status for status, _ in answers] == [200, 200, 200, 429]
        error = answers[-1][1]["errors"][0]  # type: ignore[index]
        assert error["code"] == 42903 and error["parameter"] == "retailStore"

    def test_phone_is_required(self, tenant: Tenant) -> None:
        status, answer = ask_registration_code(tenant, None)
        assert status == 412 and answer["errors"][0]["parameter"] == "phone"  # type: ignore[index]

    def test_spending_code_uses_the_customers_phone_when_none_is_sent(self, tenant: Tenant) -> None:
        customer = tenant.register(phone="+79035550011")
        response = tenant.post(
            "/retaildemand/verify", {"retailStore": payloads.store(), "counterpartyId": customer}
        )
        assert response.status_code == 200
        assert response.json()["messageForCashier"].endswith("00-11")

    def test_spending_code_for_nobody_is_refused(self, tenant: Tenant) -> None:
        response = tenant.post("/retaildemand/verify", {"counterpartyId": payloads.new_id()})
        assert response.status_code == 412 and response.json()["errors"][0]["parameter"] == "phone"


@pytest.fixture(scope="module")
def sms_gateway() -> Iterator[tuple[FakeSmsGateway, LiveServer]]:
    fake = FakeSmsGateway()
    server = LiveServer(fake.app)  # type: ignore[arg-type]
    server.start()
    yield fake, server
    server.stop()


@pytest.fixture(scope="module")
def sms_app(
    app_settings: Settings, sms_gateway: tuple[FakeSmsGateway, LiveServer]
) -> Iterator[LiveServer]:
    _, gateway = sms_gateway
    settings = app_settings.model_copy(
        update={
            "SMS_SENDER": SmsSenderKind.http,
            "SMS_GATEWAY_URL": f"{gateway.base_url}/send",
            "SMS_GATEWAY_TOKEN": None,
        }
    )
    server = LiveServer(create_app(settings, clock=Clock()))
    server.start()
    yield server
    server.stop()


class TestHttpSender:
    def test_code_is_posted_to_the_gateway(
        self, db: Database, sms_app: LiveServer, sms_gateway: tuple[FakeSmsGateway, LiveServer]
    ) -> None:
        fake, _ = sms_gateway
        tenant = create_tenant(db, sms_app)
        status, answer = ask_registration_code(tenant, "8 901 123 11 22")
        assert status == 200
        message = fake.messages[-1]
        assert message["phone"] == "+79011231122"
        assert re.search(r"\b" + str(answer["verificationCode"]) + r"\b", message["text"])
        assert_ledger_consistent(db, tenant.account_id)

    def test_gateway_failure_is_503_and_does_not_burn_the_cooldown(
        self, db: Database, sms_app: LiveServer, sms_gateway: tuple[FakeSmsGateway, LiveServer]
    ) -> None:
        fake, _ = sms_gateway
        tenant = create_tenant(db, sms_app)
        fake.failing = True
        try:
            status, answer = ask_registration_code(tenant, "+79011230000")
        finally:
            fake.failing = False
        assert status == 503 and answer["errors"][0]["code"] == 50301  # type: ignore[index]
        assert ask_registration_code(tenant, "+79011230000")[0] == 200
