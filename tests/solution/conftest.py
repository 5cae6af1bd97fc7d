"""A fake MoySklad and a server configured as the MoySklad solution, both on loopback ports,
sharing the test database with the LoyaltyAPI server."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.main import create_app
from loyalty.moysklad.crypto import TokenCipher
from tests.conftest import TOKEN_HEADER, assert_ledger_consistent
from tests.support import payloads
from tests.support.db import Database
from tests.support.fake_moysklad import APPS_API, JSON_API, FakeMoySklad
from tests.support.server import LiveServer, free_port

APP_ID = str(uuid.uuid4())
APP_UID = "loyalty-points.example-vendor"
SECRET_KEY = "test-" + secrets.token_hex(24)
ENCRYPTION_KEY = Fernet.generate_key().decode()
SETTINGS_PATH = "/moysklad/settings"


@contextmanager
def running_fake() -> Iterator[FakeMoySklad]:
    fake = FakeMoySklad(app_id=APP_ID, app_uid=APP_UID, secret_key=SECRET_KEY)
    server = LiveServer(fake.app)  # type: ignore[arg-type]
    server.start()
    fake.base_url = server.base_url
    try:
        yield fake
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fake_moysklad() -> Iterator[FakeMoySklad]:
    with running_fake() as fake:
        yield fake


def solution_settings_for(base: Settings, fake: FakeMoySklad, public_url: str) -> Settings:
    # The browser frames our page from the fake's "localhost" origin: another site.
    framing_origin = fake.base_url.replace("127.0.0.1", "localhost")
    return base.model_copy(
        update={
            "MOYSKLAD_APP_ID": APP_ID,
            "MOYSKLAD_APP_UID": APP_UID,
            "MOYSKLAD_SECRET_KEY": SecretStr(SECRET_KEY),
            "MOYSKLAD_TOKEN_ENCRYPTION_KEYS": SecretStr(ENCRYPTION_KEY),
            "PUBLIC_BASE_URL": public_url,
            "MOYSKLAD_APPS_API_URL": fake.base_url + APPS_API,
            "MOYSKLAD_JSON_API_URL": fake.base_url + JSON_API,
            "MOYSKLAD_RETRY_BASE_SECONDS": 0.05,
            "MOYSKLAD_TASK_POLL_SECONDS": 0.2,
            "MOYSKLAD_FRAME_ANCESTORS": framing_origin,
        }
    )


@pytest.fixture(scope="session")
def solution(app_settings: Settings, fake_moysklad: FakeMoySklad) -> Iterator[LiveServer]:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    settings = solution_settings_for(app_settings, fake_moysklad, public_url)
    live = LiveServer(create_app(settings, clock=Clock()), port=port)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def installed(solution: LiveServer, fake_moysklad: FakeMoySklad, db: Database) -> Iterator[str]:
    """A MoySklad account with the solution freshly installed (SettingsRequired)."""
    account_id, response = fake_moysklad.install(solution.base_url)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "SettingsRequired"}
    yield account_id
    our_id = account_of(db, account_id)
    if our_id is not None:
        assert_ledger_consistent(db, our_id)


def account_of(db: Database, moysklad_account_id: str) -> uuid.UUID | None:
    value = db.scalar(
        "SELECT id FROM account WHERE moysklad_account_id = :ms", ms=moysklad_account_id
    )
    return None if value is None else uuid.UUID(str(value))


def installation(db: Database, moysklad_account_id: str) -> dict[str, Any]:
    rows = db.fetch(
        "SELECT i.*, a.status AS account_status FROM moysklad_installation i"
        " JOIN account a ON a.id = i.account_id WHERE a.moysklad_account_id = :ms",
        ms=moysklad_account_id,
    )
    assert len(rows) == 1
    return rows[0]


def decrypt(ciphertext: bytes) -> str:
    return TokenCipher(SecretStr(ENCRYPTION_KEY)).decrypt(ciphertext)


def till_status(server: LiveServer, token: str) -> int:
    """What a till gets from the LoyaltyAPI with this token (200, or 401 when refused)."""
    response = httpx.post(
        f"{server.base_url}/loyalty/counterparty/detail",
        json={
            "retailStore": payloads.store(),
            "meta": payloads.meta("counterparty", payloads.new_id()),
        },
        headers={TOKEN_HEADER: token},
        timeout=30,
    )
    return 401 if response.status_code == 401 else 200


def wait_for(condition: Callable[[], Any], *, timeout: float = 20.0) -> Any:
    """Background work (the task runner) finishes on its own time: poll for its effect."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


class SettingsPage:
    """The settings iframe driven over plain HTTP: open with a context key, post its forms."""

    def __init__(self, server: LiveServer, fake: FakeMoySklad, account_id: str) -> None:
        self.server = server
        self.fake = fake
        self.account_id = account_id
        self.client = httpx.Client(base_url=server.base_url, timeout=30)
        self.html = ""
        self.response: httpx.Response | None = None

    def open(self, *, admin: bool = True, locale: str = "ru_RU") -> httpx.Response:
        key = self.fake.issue_context(self.account_id, admin=admin)
        response = self.client.get(
            SETTINGS_PATH,
            params={"contextKey": key, "appUid": APP_UID, "appId": APP_ID, "userLocale": locale},
        )
        return self._keep(response)

    @property
    def session_token(self) -> str:
        found = re.search(r'name="session" value="([^"]+)"', self.html)
        assert found, "no session on the page"
        return found.group(1)

    def field(self, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', self.html)
        assert found, name
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], **headers: str) -> httpx.Response:
        response = self.client.post(SETTINGS_PATH + path, data=data, headers=headers)
        return self._keep(response)

    def save(self, **changes: Any) -> httpx.Response:
        form = {
            "session": self.session_token,
            "version": self.field("version"),
            "earn_percent": self.field("earn_percent"),
            "max_spend_percent": self.field("max_spend_percent"),
            "activation_delay_days": self.field("activation_delay_days"),
            "expiry_days": self.field("expiry_days"),
            "welcome_bonus_points": self.field("welcome_bonus_points"),
            "verify_spend_above_points": self.field("verify_spend_above_points"),
            "earn_on_spend": "on",
            "auto_enroll": "on",
            "receipt_text": "",
        }
        form.update({key: value for key, value in changes.items() if value is not None})
        for key in [key for key, value in changes.items() if value is None]:
            form.pop(key, None)
        return self.post("", form)

    def connect(self) -> httpx.Response:
        return self.post("/connect", {"session": self.session_token})

    def _keep(self, response: httpx.Response) -> httpx.Response:
        self.response = response
        self.html = response.text
        return response

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def page(
    solution: LiveServer, fake_moysklad: FakeMoySklad, installed: str
) -> Iterator[SettingsPage]:
    opened = SettingsPage(solution, fake_moysklad, installed)
    yield opened
    opened.close()


def run_async(db: Database, work: Callable[[AsyncSession], Any]) -> Any:
    return db.run(work)
