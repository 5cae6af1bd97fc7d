"""The settings iframe over HTTP: who may see and change what, validation, framing headers,
the page's own session and its CSRF protection."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from loyalty.common.clock import Clock
from tests.solution.conftest import SETTINGS_PATH, SettingsPage, account_of, installation
from tests.support.db import Database
from tests.support.fake_moysklad import FakeMoySklad
from tests.support.server import LiveServer


def program(db: Database, moysklad_account_id: str) -> dict[str, object]:
    rows = db.fetch(
        "SELECT earn_percent, max_spend_percent, expiry_days, earn_on_spend, version,"
        " birthday_bonus_points, birthday_window_days, expiry_warning_days"
        " FROM program_settings WHERE account_id = :a",
        a=account_of(db, moysklad_account_id),
    )
    return rows[0]


class TestOpening:
    def test_admin_sees_the_form_in_russian(self, page: SettingsPage) -> None:
        response = page.open()
        assert response.status_code == 200
        assert 'lang="ru"' in page.html and "Правила программы" in page.html
        assert 'id="save"' in page.html and 'id="connect"' in page.html
        assert "Петрова А. В." in page.html and "администратор" in page.html
        assert page.field("earn_percent") == "5"

    def test_english_for_en_us(self, page: SettingsPage) -> None:
        page.open(locale="en_US")
        assert 'lang="en"' in page.html and "Program rules" in page.html

    def test_a_non_admin_sees_the_settings_read_only(self, page: SettingsPage) -> None:
        page.open(admin=False)
        assert 'id="read-only"' in page.html
        assert 'id="save"' not in page.html and 'id="connect"' not in page.html
        assert re.search(r'name="earn_percent" value="5" inputmode="decimal" disabled', page.html)

    def test_a_non_admin_cannot_post_changes(
        self, page: SettingsPage, db: Database, installed: str
    ) -> None:
        page.open(admin=False)
        response = page.save(earn_percent="9")
        assert response.status_code == 403
        assert "только администратор" in page.html
        assert program(db, installed)["earn_percent"] == Decimal("5")
        page.open(admin=False)
        assert page.connect().status_code == 403

    def test_framing_is_allowed_to_moysklad_only_and_nothing_is_cached(
        self, page: SettingsPage, fake_moysklad: FakeMoySklad
    ) -> None:
        response = page.open()
        policy = response.headers["Content-Security-Policy"]
        assert f"frame-ancestors {fake_moysklad.base_url.replace('127.0.0.1', 'localhost')}" in (
            policy
        )
        assert "X-Frame-Options" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "set-cookie" not in response.headers

    def test_an_unknown_context_key_is_refused(self, solution: LiveServer) -> None:
        page = SettingsPage(solution, FakeMoySklad(app_id="", app_uid="", secret_key=""), "")
        response = page.client.get(SETTINGS_PATH, params={"contextKey": "0" * 32})
        assert response.status_code == 401
        assert "Откройте решение заново" in response.text
        assert page.client.get(SETTINGS_PATH).status_code == 401
        page.close()

    def test_an_account_without_the_solution_is_told_to_install_it(
        self, solution: LiveServer, fake_moysklad: FakeMoySklad, installed: str
    ) -> None:
        fake_moysklad.uninstall(solution.base_url, installed)
        page = SettingsPage(solution, fake_moysklad, installed)
        response = page.open()
        assert response.status_code == 412
        assert "не установлено" in response.text
        page.close()


class TestSaving:
    def test_changes_are_saved(self, page: SettingsPage, db: Database, installed: str) -> None:
        page.open()
        response = page.save(earn_percent="7,5", expiry_days="365", earn_on_spend=None)
        assert response.status_code == 200
        assert "Настройки сохранены." in page.html
        stored = program(db, installed)
        assert stored["earn_percent"] == Decimal("7.5")
        assert stored["expiry_days"] == 365 and stored["earn_on_spend"] is False
        assert page.field("earn_percent") == "7,5"
        assert installation(db, installed)["settings_saved_at"] is not None

    def test_birthday_and_expiry_warning_settings_are_saved_and_checked(
        self, page: SettingsPage, db: Database, installed: str
    ) -> None:
        page.open()
        page.save(birthday_bonus_points="250", birthday_window_days="40", expiry_warning_days="7")
        assert "Окно бонуса ко дню рождения — от 0 до 30 дней" in page.html
        assert program(db, installed)["birthday_bonus_points"] == 0
        page.save(birthday_bonus_points="250", birthday_window_days="5", expiry_warning_days="7")
        assert "Настройки сохранены." in page.html
        stored = program(db, installed)
        assert (
            stored["birthday_bonus_points"],
            stored["birthday_window_days"],
            stored["expiry_warning_days"],
        ) == (250, 5, 7)
        assert page.field("birthday_window_days") == "5"

    def test_every_wrong_field_is_marked_and_nothing_is_saved(
        self, page: SettingsPage, db: Database, installed: str
    ) -> None:
        page.open()
        page.save(earn_percent="150", activation_delay_days="пять", receipt_text="{oops}")
        assert page.response is not None and page.response.status_code == 200
        assert "Настройки не сохранены" in page.html
        assert "Процент должен быть от 0 до 100" in page.html
        assert "Введите целое число" in page.html
        assert "Неизвестные подстановки в тексте для чека: {oops}" in page.html
        assert page.field("earn_percent") == "150"  # what the merchant typed stays
        assert program(db, installed)["earn_percent"] == Decimal("5")

    def test_validation_messages_in_english(self, page: SettingsPage) -> None:
        page.open(locale="en_US")
        page.save(max_spend_percent="12.345")
        assert "A percent from 0 to 100 with at most two decimals" in page.html

    def test_a_concurrent_change_is_not_overwritten(
        self, page: SettingsPage, solution: LiveServer, fake_moysklad: FakeMoySklad, installed: str
    ) -> None:
        page.open()
        other = SettingsPage(solution, fake_moysklad, installed)
        other.open()
        other.save(earn_percent="3")
        other.close()
        page.save(earn_percent="9")
        assert "изменил другой пользователь" in page.html
        assert page.field("earn_percent") == "3"


class TestPageSession:
    def test_a_tampered_session_is_refused(self, page: SettingsPage) -> None:
        page.open()
        token = page.session_token
        payload, _, signature = token.partition(".")
        forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
        response = page.post("", {"session": forged, "earn_percent": "9"})
        assert response.status_code == 401
        assert "Страница устарела" in response.text

    def test_an_idle_page_expires(self, page: SettingsPage, solution: LiveServer) -> None:
        page.open()
        clock: Clock = solution.app.state.clock
        clock.advance(timedelta(minutes=31))
        try:
            response = page.save(earn_percent="6")
        finally:
            clock.reset()
        assert response.status_code == 401
        assert "Страница устарела" in response.text

    def test_a_post_from_another_site_is_refused(self, page: SettingsPage) -> None:
        page.open()
        response = page.post(
            "/connect", {"session": page.session_token}, Origin="https://evil.example"
        )
        assert response.status_code == 403

    def test_the_page_works_long_after_the_context_key_expired(
        self, page: SettingsPage, fake_moysklad: FakeMoySklad
    ) -> None:
        page.open()
        fake_moysklad.contexts.clear()  # MoySklad's context key is gone (5 minutes)
        assert page.save(earn_percent="6").status_code == 200
        assert "Настройки сохранены." in page.html

    def test_sync_can_be_requested(self, page: SettingsPage, db: Database, installed: str) -> None:
        page.open()
        response = page.post("/sync", {"session": page.session_token})
        assert response.status_code == 200
        assert "Справочники обновятся" in page.html
