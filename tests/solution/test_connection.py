"""The Connect button under every answer MoySklad can give: the till token rotation must never
leave the tills with a token MoySklad does not have, nor MoySklad with one we refuse."""

from __future__ import annotations

from tests.solution.conftest import (
    SettingsPage,
    decrypt,
    installation,
    till_status,
    wait_for,
)
from tests.support.db import Database
from tests.support.fake_moysklad import FakeMoySklad
from tests.support.server import LiveServer


def tokens_by_state(db: Database, moysklad_account_id: str) -> dict[str, int]:
    rows = db.fetch(
        "SELECT t.state, count(*) AS n FROM api_token t JOIN account a ON a.id = t.account_id"
        " WHERE a.moysklad_account_id = :ms GROUP BY t.state",
        ms=moysklad_account_id,
    )
    return {row["state"]: row["n"] for row in rows}


def loyalty_token(fake: FakeMoySklad, account: str) -> str:
    loyalty = fake.installations[account].loyalty
    assert loyalty is not None
    return str(loyalty["token"])


class TestConnect:
    def test_200_promotes_the_token_and_activates_the_solution(
        self,
        page: SettingsPage,
        fake_moysklad: FakeMoySklad,
        solution: LiveServer,
        db: Database,
        installed: str,
    ) -> None:
        page.open()
        response = page.connect()
        assert response.status_code == 200
        assert "Программа лояльности подключена к кассам." in page.html
        sent = fake_moysklad.requests_to(f"/{installed}/loyalty", "PUT")[-1]
        assert sent.body["url"] == f"{solution.base_url}/loyalty"
        assert sent.body["externalSearch"] is True
        assert sent.claims is not None and sent.claims["sub"] == "loyalty-points.example-vendor"
        token = loyalty_token(fake_moysklad, installed)
        assert till_status(solution, token) == 200
        assert tokens_by_state(db, installed) == {"active": 1}
        assert fake_moysklad.installations[installed].status == "Activated"
        row = installation(db, installed)
        assert (row["status"], row["loyalty_state"]) == ("Activated", "connected")
        assert row["pending_till_token_ciphertext"] is None

    def test_reconnecting_rotates_the_token(
        self,
        page: SettingsPage,
        fake_moysklad: FakeMoySklad,
        solution: LiveServer,
        db: Database,
        installed: str,
    ) -> None:
        page.open()
        page.connect()
        first = loyalty_token(fake_moysklad, installed)
        page.connect()
        second = loyalty_token(fake_moysklad, installed)
        assert first != second
        assert (till_status(solution, first), till_status(solution, second)) == (401, 200)
        assert tokens_by_state(db, installed) == {"active": 1, "revoked": 1}

    def test_4xx_drops_the_new_token_and_keeps_the_old_one(
        self,
        page: SettingsPage,
        fake_moysklad: FakeMoySklad,
        solution: LiveServer,
        db: Database,
        installed: str,
    ) -> None:
        page.open()
        page.connect()
        working = loyalty_token(fake_moysklad, installed)
        fake_moysklad.fail(f"/{installed}/loyalty", 400, code=2006)
        page.connect()
        assert "не разрешает этому решению подключать программу лояльности" in page.html
        assert loyalty_token(fake_moysklad, installed) == working
        assert till_status(solution, working) == 200
        assert tokens_by_state(db, installed) == {"active": 1, "revoked": 1}
        row = installation(db, installed)
        # Still connected with the old token; the refusal is shown, not hidden.
        assert (row["loyalty_state"], row["loyalty_error_code"]) == ("connected", 2006)

    def test_not_installed_is_explained(
        self, page: SettingsPage, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        page.open()
        fake_moysklad.fail(f"/{installed}/loyalty", 404, code=2004)
        page.connect()
        assert "МойСклад не находит решение на этом аккаунте" in page.html
        assert installation(db, installed)["loyalty_state"] == "failed"
        assert tokens_by_state(db, installed) == {"revoked": 1}

    def test_still_installing_is_retried_in_the_background(
        self, page: SettingsPage, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        page.open()
        fake_moysklad.fail(f"/{installed}/loyalty", 400, code=2007)
        page.connect()
        assert "ещё завершает установку" in page.html
        task = db.fetch(
            "SELECT run_after > now() AS later FROM moysklad_task t JOIN account a"
            " ON a.id = t.account_id WHERE a.moysklad_account_id = :ms"
            " AND t.kind = 'connect_loyalty'",
            ms=installed,
        )
        assert task == [{"later": True}]
        # Bring the retry forward: the runner connects on its own.
        db.fetch(
            "UPDATE moysklad_task SET run_after = now() FROM account a"
            " WHERE a.id = moysklad_task.account_id AND a.moysklad_account_id = :ms"
            " RETURNING 1",
            ms=installed,
        )
        wait_for(lambda: installation(db, installed)["status"] == "Activated")
        assert installation(db, installed)["loyalty_state"] == "connected"

    def test_no_answer_keeps_both_tokens_until_a_later_attempt_decides(
        self,
        page: SettingsPage,
        fake_moysklad: FakeMoySklad,
        solution: LiveServer,
        db: Database,
        installed: str,
    ) -> None:
        page.open()
        page.connect()
        old = loyalty_token(fake_moysklad, installed)
        fake_moysklad.fail(f"/{installed}/loyalty", 503, times=2)  # both interactive attempts
        page.connect()
        assert "МойСклад не ответил вовремя" in page.html
        row = installation(db, installed)
        assert row["loyalty_state"] == "unknown"
        pending = decrypt(bytes(row["pending_till_token_ciphertext"]))
        # MoySklad may or may not hold the new token: the tills may use either.
        assert till_status(solution, old) == 200
        assert till_status(solution, pending) == 200
        assert tokens_by_state(db, installed) == {"active": 1, "pending": 1}

        page.connect()  # the next attempt resends the same token, and it is accepted
        assert loyalty_token(fake_moysklad, installed) == pending
        assert till_status(solution, pending) == 200
        assert till_status(solution, old) == 401
        assert installation(db, installed)["pending_till_token_ciphertext"] is None

    def test_a_refused_status_report_is_shown_and_retried(
        self, page: SettingsPage, fake_moysklad: FakeMoySklad, db: Database, installed: str
    ) -> None:
        page.open()
        fake_moysklad.fail(f"/{installed}/status", 503, method="PUT", times=2)
        page.connect()
        assert "ещё не принял статус" in page.html
        row = installation(db, installed)
        assert (row["loyalty_state"], row["status"]) == ("connected", "SettingsRequired")
        db.fetch(
            "UPDATE moysklad_task SET run_after = now() FROM account a"
            " WHERE a.id = moysklad_task.account_id AND a.moysklad_account_id = :ms"
            " RETURNING 1",
            ms=installed,
        )
        wait_for(lambda: installation(db, installed)["status"] == "Activated")
        assert installation(db, installed)["status_report_error"] is None
        assert fake_moysklad.installations[installed].status == "Activated"

    def test_a_suspended_account_cannot_connect(
        self,
        page: SettingsPage,
        fake_moysklad: FakeMoySklad,
        solution: LiveServer,
        installed: str,
    ) -> None:
        page.open()
        fake_moysklad.suspend(solution.base_url, installed)
        response = page.connect()
        assert response.status_code == 412
        assert "не установлено на этом аккаунте или приостановлено" in page.html
