"""The `loyalty` command line, run in-process against the test database."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import Result

from tests.conftest import TOKEN_HEADER, Tenant
from tests.support import payloads
from tests.support.server import LiveServer


def output(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def till_status(server: LiveServer, token: str) -> int:
    response = httpx.get(
        f"{server.base_url}/loyalty/counterparty",
        params={"search": "x", "retailStoreId": "s"},
        headers={TOKEN_HEADER: token},
    )
    return response.status_code


class TestAccounts:
    def test_create_prints_an_id_and_a_working_token(
        self, run_cli: Any, server: LiveServer
    ) -> None:
        created = output(
            run_cli(
                "account", "create", "--name", "Кофейня", "--moysklad-account-id", payloads.new_id()
            )
        )
        assert set(created) >= {"id", "token"} and len(created["token"]) >= 43
        assert till_status(server, created["token"]) == 200
        stored = [account["id"] for account in output(run_cli("account", "list"))]
        assert created["id"] in stored

    def test_tokens_are_stored_only_as_digests(self, run_cli: Any, db: Any) -> None:
        created = output(run_cli("account", "create", "--name", "Хеш"))
        rows = db.fetch("SELECT token_hash FROM api_token WHERE account_id = :a", a=created["id"])
        assert len(rows) == 1 and len(rows[0]["token_hash"]) == 32
        assert created["token"].encode() not in rows[0]["token_hash"]

    def test_rotation_keeps_both_tokens_until_confirmed(
        self, run_cli: Any, server: LiveServer
    ) -> None:
        created = output(run_cli("account", "create", "--name", "Ротация"))
        old = created["token"]
        new = output(run_cli("account", "rotate-token", created["id"]))["token"]
        assert (till_status(server, old), till_status(server, new)) == (200, 200)
        output(run_cli("account", "rotate-token", created["id"], "--confirm"))
        assert (till_status(server, old), till_status(server, new)) == (401, 200)

    def test_a_discarded_rotation_keeps_the_old_token(
        self, run_cli: Any, server: LiveServer
    ) -> None:
        created = output(run_cli("account", "create", "--name", "Отказ"))
        pending = output(run_cli("account", "rotate-token", created["id"]))["token"]
        output(run_cli("account", "rotate-token", created["id"], "--discard"))
        assert (till_status(server, created["token"]), till_status(server, pending)) == (200, 401)
        refused = run_cli("account", "rotate-token", created["id"], "--confirm")
        assert refused.exit_code == 1 and "ожидающего" in refused.stderr

    def test_unknown_account_fails_cleanly(self, run_cli: Any) -> None:
        result = run_cli("program", "show", payloads.new_id())
        assert result.exit_code == 1 and json.loads(result.stderr)["code"] == 40402


class TestProgram:
    def test_set_and_show(self, run_cli: Any, tenant: Tenant) -> None:
        account = str(tenant.account_id)
        shown = output(
            run_cli(
                "program",
                "set",
                account,
                "--earn-percent",
                "7.5",
                "--max-spend-percent",
                "30",
                "--no-earn-on-spend",
                "--activation-delay-days",
                "3",
                "--expiry-days",
                "365",
                "--welcome-bonus",
                "200",
                "--verify-registration",
                "--verify-spend-above",
                "500",
                "--no-auto-enroll",
                "--receipt-text",
                "Баланс: {balance_after}",
                "--birthday-bonus",
                "300",
                "--birthday-window-days",
                "7",
                "--expiry-warning-days",
                "14",
            )
        )
        assert shown == output(run_cli("program", "show", account))
        assert shown | {"version": 0} == {
            "earn_percent": "7.5",
            "max_spend_percent": "30",
            "earn_on_spend": False,
            "activation_delay_days": 3,
            "expiry_days": 365,
            "welcome_bonus_points": 200,
            "verify_registration": True,
            "verify_spend_above_points": 500,
            "auto_enroll": False,
            "receipt_text": "Баланс: {balance_after}",
            "restore_gift_cards_on_return": True,
            "apply_personal_vouchers": True,
            "voucher_stacking": "stack",
            "birthday_bonus_points": 300,
            "birthday_window_days": 7,
            "expiry_warning_days": 14,
            "tier_window_months": 12,
            "version": 0,
        }
        cleared = output(
            run_cli(
                "program", "set", account, "--expiry-days", "none", "--verify-spend-above", "none"
            )
        )
        assert (
            cleared["expiry_days"],
            cleared["verify_spend_above_points"],
            cleared["earn_percent"],
        ) == (None, None, "7.5")

    @pytest.mark.parametrize(
        ("args", "fragment"),
        [
            (("--earn-percent", "101"), "от 0 до 100"),
            (("--earn-percent", "1.234"), "двух знаков"),
            (("--expiry-days", "0"), "Срок жизни"),
            (("--receipt-text", "{password}"), "{password}"),
        ],
    )
    def test_invalid_settings_are_refused_in_words(
        self, run_cli: Any, tenant: Tenant, args: tuple[str, ...], fragment: str
    ) -> None:
        result = run_cli("program", "set", str(tenant.account_id), *args)
        assert result.exit_code == 1 and fragment in json.loads(result.stderr)["error_message"]

    def test_changes_reach_the_till_at_once(self, run_cli: Any, tenant: Tenant) -> None:
        customer = tenant.register()
        output(run_cli("program", "set", str(tenant.account_id), "--earn-percent", "10"))
        answer = tenant.recalc(
            payloads.recalc(customer, [payloads.position(quantity=1, price=1000)])
        )
        assert answer["bonusProgram"]["bonusValueToEarn"] == 100


class TestPointsAndCustomers:
    @pytest.mark.parametrize("how", ["ms_id", "phone", "card", "our_id"])
    def test_adjust_finds_the_customer_every_way(
        self, run_cli: Any, tenant: Tenant, how: str
    ) -> None:
        ms_id = tenant.register(phone="+7 912 345-67-89", discountCardNumber="K-42")
        our_id = tenant.db.scalar(
            "SELECT id FROM customer WHERE account_id = :a", a=tenant.account_id
        )
        reference = {"ms_id": ms_id, "phone": "89123456789", "card": "K-42", "our_id": str(our_id)}[
            how
        ]
        result = output(
            run_cli(
                "points",
                "adjust",
                str(tenant.account_id),
                reference,
                "--points",
                "50",
                "--reason",
                "Компенсация",
            )
        )
        assert result["balance"]["available_points"] == 50 and result["replayed"] is False
        assert tenant.balance(ms_id) == 50

    def test_debit_replay_and_overdraft(self, run_cli: Any, tenant: Tenant) -> None:
        account = str(tenant.account_id)
        ms_id = tenant.register()
        output(run_cli("points", "adjust", account, ms_id, "--points", "100", "--reason", "Акция"))
        debit = [
            "points",
            "adjust",
            account,
            ms_id,
            "--points",
            "-30",
            "--reason",
            "Ошибка кассира",
            "--idempotency-key",
            "fix-1",
        ]
        assert output(run_cli(*debit))["balance"]["available_points"] == 70
        again = output(run_cli(*debit))
        assert again["replayed"] is True and tenant.balance(ms_id) == 70
        conflict = run_cli(
            "points",
            "adjust",
            account,
            ms_id,
            "--points",
            "-31",
            "--reason",
            "x",
            "--idempotency-key",
            "fix-1",
        )
        assert conflict.exit_code == 1
        overdraft = run_cli(
            "points", "adjust", account, ms_id, "--points", "-71", "--reason", "Слишком много"
        )
        assert overdraft.exit_code == 1 and json.loads(overdraft.stderr)["code"] == 41201
        reasons = tenant.db.fetch(
            "SELECT reason FROM ledger_transaction"
            " WHERE account_id = :a AND kind = 'adjustment' ORDER BY id",
            a=tenant.account_id,
        )
        assert [row["reason"] for row in reasons] == ["Акция", "Ошибка кассира"]

    def test_customer_show(self, run_cli: Any, tenant: Tenant) -> None:
        tenant.set_program(activation_delay_days=7)
        ms_id = tenant.register(phone="+79001234567", name="Покупатель Показ")
        tenant.buy(ms_id, [payloads.position(quantity=1, price=2000)])
        shown = output(run_cli("customer", "show", str(tenant.account_id), "+7 900 123-45-67"))
        assert shown["moysklad_id"] == ms_id and shown["name"] == "Покупатель Показ"
        assert shown["balance"] == {"available_points": 0, "pending_points": 100, "debt_points": 0}
        assert [
            (entry["kind"], entry["bucket"], entry["amount_points"]) for entry in shown["entries"]
        ] == [("sale", "pending", 100)]

    def test_unknown_customer(self, run_cli: Any, tenant: Tenant) -> None:
        result = run_cli("customer", "show", str(tenant.account_id), "nobody")
        assert result.exit_code == 1


class TestLedgerVerify:
    def test_green_for_a_consistent_account(self, run_cli: Any, tenant: Tenant) -> None:
        ms_id = tenant.register()
        tenant.buy(ms_id, [payloads.position(quantity=2, price=999.99)], spending=True)
        report = output(run_cli("ledger", "verify", str(tenant.account_id)))
        assert report["ok"] is True and report["violations"] == []
        assert report["checked"]["ledger_entry"] >= 2
