"""The settings iframe in a real Chromium, framed by (fake) MoySklad from another site:
change the earn percent, connect to the tills, and check what MoySklad and the database got."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.solution.conftest import (
    APP_ID,
    APP_UID,
    SETTINGS_PATH,
    account_of,
    installation,
    till_status,
)
from tests.support.db import Database
from tests.support.fake_moysklad import FakeMoySklad
from tests.support.server import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).parent / "test-output"


@pytest.fixture
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    return CHROMIUM


def drive_the_page(chromium: str, moysklad_page_url: str, screenshot: Path) -> None:
    """What a merchant does in MoySklad. Playwright's sync API owns an event loop, so it runs
    in a thread of its own and the test checks the database from the main thread."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1500})
            page.goto(moysklad_page_url)
            frame = page.frame_locator("#solution")
            expect(frame.locator("h1")).to_have_text("Программа лояльности")

            frame.locator("#earn_percent").fill("7,5")
            frame.locator("#save").click()
            expect(frame.locator("#notice")).to_have_text("Настройки сохранены.")

            frame.locator("#connect").click()
            expect(frame.locator("#notice")).to_have_text(
                "Программа лояльности подключена к кассам."
            )
            expect(frame.locator("#loyalty-state")).to_have_attribute("data-state", "connected")
            expect(frame.locator("#solution-status")).to_have_attribute("data-status", "Activated")
            expect(frame.locator("#earn_percent")).to_have_value("7,5")
            screenshot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()


def test_change_the_earn_percent_and_connect(
    chromium: str,
    solution: LiveServer,
    fake_moysklad: FakeMoySklad,
    db: Database,
    installed: str,
) -> None:
    context_key = fake_moysklad.issue_context(installed, admin=True)
    iframe_url = f"{solution.base_url}{SETTINGS_PATH}?" + urlencode(
        {"contextKey": context_key, "appUid": APP_UID, "appId": APP_ID, "userLocale": "ru_RU"}
    )
    # MoySklad's page, on another site ("localhost" versus "127.0.0.1"), frames ours.
    moysklad_page = fake_moysklad.base_url.replace("127.0.0.1", "localhost") + "/app/embed?"
    screenshot = OUTPUT / "settings-page.png"
    with ThreadPoolExecutor(max_workers=1) as browser_thread:
        browser_thread.submit(
            drive_the_page, chromium, moysklad_page + urlencode({"src": iframe_url}), screenshot
        ).result(timeout=240)
    assert screenshot.stat().st_size > 10_000

    loyalty = fake_moysklad.installations[installed].loyalty
    assert loyalty is not None and loyalty["url"] == f"{solution.base_url}/loyalty"
    assert loyalty["externalSearch"] is True
    assert till_status(solution, str(loyalty["token"])) == 200
    assert fake_moysklad.installations[installed].status == "Activated"
    assert installation(db, installed)["status"] == "Activated"
    earn_percent = db.scalar(
        "SELECT earn_percent FROM program_settings WHERE account_id = :a",
        a=account_of(db, installed),
    )
    assert earn_percent == Decimal("7.5")
