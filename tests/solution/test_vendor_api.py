"""Vendor API: MoySklad's JWTs, request replays, and every lifecycle transition with its effect
on the tills' access to the LoyaltyAPI."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts import service as accounts_service
from loyalty.common.clock import Clock
from loyalty.vendor import service as vendor_service
from loyalty.webhooks import service as webhooks_service
from tests.solution.conftest import (
    APP_UID,
    SettingsPage,
    account_of,
    decrypt,
    installation,
    till_status,
    wait_for,
)
from tests.support import payloads
from tests.support.db import Database
from tests.support.fake_moysklad import FakeMoySklad
from tests.support.server import LiveServer


def install_body(fake: FakeMoySklad, account_name: str = "Кофейня") -> dict[str, Any]:
    return {
        "appUid": APP_UID,
        "accountName": account_name,
        "cause": "Install",
        "access": [
            {
                "resource": "https://api.moysklad.ru/api/remap/1.2",
                "scope": ["admin"],
                "access_token": uuid.uuid4().hex,
            }
        ],
    }


def error_code(response: httpx.Response) -> int:
    code: int = response.json()["errors"][0]["code"]
    return code


class TestJwt:
    def test_missing_token_is_401(self, solution: LiveServer, fake_moysklad: FakeMoySklad) -> None:
        response = fake_moysklad.vendor_call(
            solution.base_url,
            "PUT",
            str(uuid.uuid4()),
            install_body(fake_moysklad),
            authorization=None,
        )
        assert response.status_code == 401 and error_code(response) == 40171
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_wrong_signature_is_401(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        forged = fake_moysklad.sign(key="not-the-secret-key-of-this-solution")
        response = fake_moysklad.vendor_call(
            solution.base_url, "PUT", str(uuid.uuid4()), install_body(fake_moysklad), token=forged
        )
        assert response.status_code == 401 and error_code(response) == 40172

    def test_other_algorithm_is_401(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        import jwt

        unsigned = jwt.encode({"iat": int(time.time()), "jti": "x1"}, key=None, algorithm="none")
        response = fake_moysklad.vendor_call(
            solution.base_url, "PUT", str(uuid.uuid4()), install_body(fake_moysklad), token=unsigned
        )
        assert response.status_code == 401 and error_code(response) == 40172

    def test_expired_token_is_401(self, solution: LiveServer, fake_moysklad: FakeMoySklad) -> None:
        stale = fake_moysklad.sign(issued_at=time.time() - 400, expires_at=time.time() - 100)
        response = fake_moysklad.vendor_call(
            solution.base_url, "PUT", str(uuid.uuid4()), install_body(fake_moysklad), token=stale
        )
        assert response.status_code == 401 and error_code(response) == 40173

    def test_lifetime_is_capped_at_300_seconds(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        # exp is far ahead, but iat + 300 s has passed: expired all the same.
        long_lived = fake_moysklad.sign(issued_at=time.time() - 400, expires_at=time.time() + 3600)
        response = fake_moysklad.vendor_call(
            solution.base_url,
            "PUT",
            str(uuid.uuid4()),
            install_body(fake_moysklad),
            token=long_lived,
        )
        assert response.status_code == 401 and error_code(response) == 40173

    def test_token_from_the_future_is_401(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        future = fake_moysklad.sign(issued_at=time.time() + 600, expires_at=time.time() + 700)
        response = fake_moysklad.vendor_call(
            solution.base_url, "PUT", str(uuid.uuid4()), install_body(fake_moysklad), token=future
        )
        assert response.status_code == 401 and error_code(response) == 40172

    def test_replayed_jti_is_401_and_changes_nothing(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database
    ) -> None:
        token = fake_moysklad.sign()
        first_account, second_account = str(uuid.uuid4()), str(uuid.uuid4())
        first = fake_moysklad.vendor_call(
            solution.base_url, "PUT", first_account, install_body(fake_moysklad), token=token
        )
        assert first.status_code == 200
        replay = fake_moysklad.vendor_call(
            solution.base_url, "PUT", second_account, install_body(fake_moysklad), token=token
        )
        assert replay.status_code == 401 and error_code(replay) == 40174
        assert account_of(db, second_account) is None
        # A captured install token cannot be turned into an uninstall either.
        hijack = fake_moysklad.vendor_call(
            solution.base_url, "DELETE", first_account, {"cause": "Uninstall"}, token=token
        )
        assert hijack.status_code == 401
        assert installation(db, first_account)["status"] == "SettingsRequired"


class TestRequestIdReplay:
    def test_a_retry_with_the_same_request_id_gets_the_same_answer_once(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database
    ) -> None:
        account = str(uuid.uuid4())
        body = install_body(fake_moysklad)
        request_id = str(uuid.uuid4())
        first = fake_moysklad.vendor_call(
            solution.base_url, "PUT", account, body, request_id=request_id
        )
        stored = installation(db, account)
        # MoySklad retries with a fresh token and the same X_Lognex_RequestId.
        again = fake_moysklad.vendor_call(
            solution.base_url, "PUT", account, body, request_id=request_id
        )
        assert (first.status_code, first.json()) == (again.status_code, again.json())
        assert again.headers["content-type"] == "application/json"
        # Processed once: a second run would have encrypted the token anew (Fernet is random).
        assert (
            installation(db, account)["access_token_ciphertext"]
            == stored["access_token_ciphertext"]
        )

    def test_the_same_request_id_with_other_content_is_409(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        account = str(uuid.uuid4())
        request_id = str(uuid.uuid4())
        fake_moysklad.vendor_call(
            solution.base_url, "PUT", account, install_body(fake_moysklad), request_id=request_id
        )
        other = fake_moysklad.vendor_call(
            solution.base_url, "DELETE", account, {"cause": "Suspend"}, request_id=request_id
        )
        assert other.status_code == 409 and error_code(other) == 40970

    def test_an_exact_resend_of_the_same_request_is_answered_again(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        account, token, request_id = str(uuid.uuid4()), fake_moysklad.sign(), str(uuid.uuid4())
        body = install_body(fake_moysklad)
        first = fake_moysklad.vendor_call(
            solution.base_url, "PUT", account, body, token=token, request_id=request_id
        )
        resent = fake_moysklad.vendor_call(
            solution.base_url, "PUT", account, body, token=token, request_id=request_id
        )
        assert first.status_code == resent.status_code == 200


class TestConfiguration:
    def test_another_app_id_is_404(self, solution: LiveServer, fake_moysklad: FakeMoySklad) -> None:
        response = fake_moysklad.vendor_call(
            solution.base_url,
            "PUT",
            str(uuid.uuid4()),
            install_body(fake_moysklad),
            app_id=str(uuid.uuid4()),
        )
        assert response.status_code == 404 and error_code(response) == 40470

    def test_an_unconfigured_service_answers_503_so_moysklad_retries(
        self, server: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        response = fake_moysklad.vendor_call(
            server.base_url, "PUT", str(uuid.uuid4()), install_body(fake_moysklad)
        )
        assert response.status_code == 503 and error_code(response) == 50371

    def test_a_body_without_cause_is_refused(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        response = fake_moysklad.vendor_call(
            solution.base_url, "PUT", str(uuid.uuid4()), {"appUid": APP_UID}
        )
        assert response.status_code == 412 and response.json()["errors"][0]["parameter"] == "cause"


class TestInstall:
    def test_install_creates_the_account_and_keeps_the_token_encrypted(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        row = installation(db, installed)
        assert row["status"] == "SettingsRequired" and row["account_status"] == "active"
        access_token = fake_moysklad.installations[installed].access_token
        assert access_token is not None
        ciphertext = bytes(row["access_token_ciphertext"])
        assert access_token.encode() not in ciphertext
        assert decrypt(ciphertext) == access_token
        # No till token exists before the merchant connects the program.
        assert (
            db.scalar("SELECT count(*) FROM api_token WHERE account_id = :a", a=row["account_id"])
            == 0
        )

    def test_install_loads_the_catalogue_in_the_background(
        self, db: Database, installed: str
    ) -> None:
        wait_for(lambda: installation(db, installed)["catalogue_synced_at"])
        account = account_of(db, installed)
        assert (
            db.scalar("SELECT count(*) FROM moysklad_retail_store WHERE account_id = :a", a=account)
            == 2
        )

    def test_installing_an_account_an_operator_created_adopts_it(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database
    ) -> None:
        moysklad_id = str(uuid.uuid4())

        async def create(session: AsyncSession) -> Any:
            return await accounts_service.create_account(
                session, name="Старый магазин", moysklad_account_id=moysklad_id
            )

        created = db.run(create)
        _, response = fake_moysklad.install(solution.base_url, moysklad_id)
        assert response.status_code == 200
        assert account_of(db, moysklad_id) == created.id
        assert till_status(solution, created.token) == 200

    def test_tariff_change_and_autoprolongation_keep_the_state(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        token_before = installation(db, installed)["access_token_ciphertext"]
        for cause in ("TariffChanged", "Autoprolongation"):
            response = fake_moysklad.change_tariff(solution.base_url, installed, cause)
            assert response.status_code == 200
            assert response.json() == {"status": "SettingsRequired"}
        row = installation(db, installed)
        assert row["subscription"]["tariffName"] == "Профи"
        assert row["last_cause"] == "Autoprolongation"
        assert row["access_token_ciphertext"] == token_before


class TestDeactivation:
    def connect(self, solution: LiveServer, fake: FakeMoySklad, account: str) -> str:
        page = SettingsPage(solution, fake, account)
        page.open()
        page.connect()
        page.close()
        loyalty = fake.installations[account].loyalty
        assert loyalty is not None
        return str(loyalty["token"])

    def test_suspend_shuts_the_tills_out_and_resume_lets_them_back(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        till_token = self.connect(solution, fake_moysklad, installed)
        assert till_status(solution, till_token) == 200

        assert fake_moysklad.suspend(solution.base_url, installed).status_code == 200
        row = installation(db, installed)
        assert (row["status"], row["account_status"]) == ("Suspended", "suspended")
        assert row["access_token_ciphertext"] is None
        assert till_status(solution, till_token) == 401

        resumed = fake_moysklad.resume(solution.base_url, installed)
        # Settings survive a suspension: MoySklad is told the solution works right away.
        assert resumed.json() == {"status": "Activated"}
        assert till_status(solution, till_token) == 200
        new_access_token = fake_moysklad.installations[installed].access_token
        assert decrypt(bytes(installation(db, installed)["access_token_ciphertext"])) == (
            new_access_token
        )

    def test_uninstall_revokes_every_till_token_and_a_repeat_changes_nothing(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        till_token = self.connect(solution, fake_moysklad, installed)
        assert fake_moysklad.uninstall(solution.base_url, installed).status_code == 200
        row = installation(db, installed)
        assert (row["status"], row["account_status"]) == ("Uninstalled", "uninstalled")
        assert row["purge_after"] - row["uninstalled_at"] == timedelta(days=90)
        assert till_status(solution, till_token) == 401
        assert fake_moysklad.uninstall(solution.base_url, installed).status_code == 200
        assert installation(db, installed)["purge_after"] == row["purge_after"]

    def test_reinstall_with_saved_settings_is_activated_and_reconnects_itself(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        old_token = self.connect(solution, fake_moysklad, installed)
        fake_moysklad.uninstall(solution.base_url, installed)
        _, response = fake_moysklad.install(solution.base_url, installed)
        assert response.json() == {"status": "Activated"}
        # MoySklad forgot the loyalty settings with the uninstall: we send a new token.
        wait_for(lambda: fake_moysklad.installations[installed].loyalty)
        new_token = str(fake_moysklad.installations[installed].loyalty["token"])  # type: ignore[index]
        assert new_token != old_token
        wait_for(lambda: installation(db, installed)["loyalty_state"] == "connected")
        assert till_status(solution, new_token) == 200
        assert till_status(solution, old_token) == 401

    def test_reinstall_without_saved_settings_asks_for_them(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, installed: str
    ) -> None:
        fake_moysklad.uninstall(solution.base_url, installed)
        _, response = fake_moysklad.install(solution.base_url, installed)
        assert response.json() == {"status": "SettingsRequired"}

    def test_deactivating_an_account_never_seen_is_204(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad
    ) -> None:
        for cause in ("Suspend", "Uninstall"):
            response = fake_moysklad.vendor_call(
                solution.base_url, "DELETE", str(uuid.uuid4()), {"appUid": APP_UID, "cause": cause}
            )
            assert response.status_code == 204 and response.content == b""


class TestRetention:
    def test_after_the_retention_period_personal_data_is_erased(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        till_token = TestDeactivation().connect(solution, fake_moysklad, installed)
        customer = payloads.new_id()
        response = httpx.post(
            f"{solution.base_url}/loyalty/counterparty",
            json=payloads.counterparty(customer, phone="+79031234567", email="a@example.com"),
            headers={"Lognex-Discount-API-Auth-Token": till_token},
        )
        assert response.status_code == 201
        wait_for(lambda: installation(db, installed)["catalogue_synced_at"])
        account = account_of(db, installed)

        async def add_webhook(session: AsyncSession) -> None:
            await webhooks_service.create_endpoint(
                session,
                account_id=account,
                url="https://crm.example.com/hook",
                event_types=["points.earned"],
                actor="test",
                now=Clock().now(),
            )

        db.run(add_webhook)
        fake_moysklad.uninstall(solution.base_url, installed)

        def purge(days: int) -> list[uuid.UUID]:
            async def work(session: AsyncSession) -> list[uuid.UUID]:
                return await vendor_service.purge_expired(
                    session, Clock().now() + timedelta(days=days)
                )

            return db.run(work)

        assert account not in purge(89)  # kept during the retention period
        assert account in purge(91)
        rows = db.fetch(
            "SELECT to_jsonb(c) AS data FROM customer c WHERE account_id = :a", a=account
        )
        person = rows[0]["data"]
        assert person["moysklad_id"] == customer
        kept = {
            "account_id",
            "id",
            "moysklad_id",
            "sync_id",
            "verified",
            "created_at",
            "updated_at",
            "status",  # whether the customer is active, blocked or merged: not personal
        }
        assert {
            key: value for key, value in person.items() if key not in kept and value is not None
        } == {}
        assert (
            db.scalar("SELECT count(*) FROM moysklad_product WHERE account_id = :a", a=account) == 0
        )
        assert installation(db, installed)["purged_at"] is not None
        assert (
            db.scalar(
                "SELECT count(*) FROM webhook_endpoint WHERE account_id = :a"
                " AND deleted_at IS NULL",
                a=account,
            )
            == 0
        )
        _, reinstalled = fake_moysklad.install(solution.base_url, installed)
        assert reinstalled.json() == {"status": "SettingsRequired"}
