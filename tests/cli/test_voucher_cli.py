"""`loyalty vouchers …`, `loyalty operator-key …` and the voucher program settings."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx

from loyalty.vouchers import codes
from loyalty.vouchers.codes import CodeFormat
from tests.cli.test_cli import output
from tests.conftest import Tenant, create_tenant
from tests.support.db import Database
from tests.support.server import LiveServer


def batch(run_cli: Any, tenant: Tenant, *extra: str) -> dict[str, Any]:
    created: dict[str, Any] = output(
        run_cli(
            "vouchers",
            "batch",
            "create",
            str(tenant.account_id),
            "--name",
            "Сертификаты",
            "--type",
            "GIFT",
            "--face-value-minor",
            "300000",
            "--code",
            "GC",
            *extra,
        )
    )
    return created


class TestOperatorKeys:
    def test_a_created_key_is_printed_once_and_works(
        self, run_cli: Any, tenant: Tenant, server: LiveServer
    ) -> None:
        created = output(
            run_cli("operator-key", "create", str(tenant.account_id), "--role", "read-only")
        )
        assert created["key"].startswith("lop_") and created["role"] == "read-only"
        url = f"{server.base_url}/api/v1/voucher-batches"
        headers = {"Authorization": f"Bearer {created['key']}"}
        assert httpx.get(url, headers=headers).status_code == 200
        listed = output(run_cli("operator-key", "list", str(tenant.account_id)))
        assert created["key"] not in json.dumps(listed)
        output(run_cli("operator-key", "revoke", str(tenant.account_id), str(created["id"])))
        assert httpx.get(url, headers=headers).status_code == 401

    def test_an_unknown_role_is_refused(self, run_cli: Any, tenant: Tenant) -> None:
        result = run_cli("operator-key", "create", str(tenant.account_id), "--role", "root")
        assert result.exit_code == 2


class TestGeneration:
    def test_generate_issues_unique_checked_codes_with_consecutive_serials(
        self, run_cli: Any, tenant: Tenant
    ) -> None:
        created = batch(run_cli, tenant, "--code-prefix", "GC", "--expiry", "dynamic:365")
        result = run_cli("vouchers", "generate", created["id"], "--count", "3000", "--issue")
        generated = output(result)
        assert (generated["count"], generated["issued"]) == (3000, True)
        assert generated["last_serial"] - generated["first_serial"] == 2999
        assert generated["elapsed_seconds"] >= 0
        rows = tenant.db.fetch(
            "SELECT code, status, balance_minor, expires_at FROM voucher WHERE account_id = :a",
            a=tenant.account_id,
        )
        assert len({row["code"] for row in rows}) == 3000
        code_format = CodeFormat(12, codes.DEFAULT_ALPHABET, "GC")
        assert all(codes.has_valid_check(row["code"], code_format) for row in rows)
        assert {(row["status"], row["balance_minor"]) for row in rows} == {("ISSUED", 300_000)}
        assert all(row["expires_at"] is not None for row in rows)
        shown = output(run_cli("vouchers", "batch", "show", created["id"]))
        assert shown["vouchers_by_status"] == {"ISSUED": 3000}

    def test_the_same_idempotency_key_generates_once(self, run_cli: Any, tenant: Tenant) -> None:
        created = batch(run_cli, tenant)
        args = ("vouchers", "generate", created["id"], "--count", "10", "--idempotency-key", "k1")
        first, again = output(run_cli(*args)), output(run_cli(*args))
        assert again["replayed"] is True and again["first_serial"] == first["first_serial"]
        assert (
            tenant.db.scalar(
                "SELECT count(*) FROM voucher WHERE account_id = :a", a=tenant.account_id
            )
            == 10
        )

    def test_an_unknown_batch_fails_cleanly(self, run_cli: Any) -> None:
        result = run_cli(
            "vouchers", "generate", "00000000-0000-4000-8000-000000000000", "--count", "1"
        )
        assert result.exit_code == 1 and json.loads(result.stderr)["code"] == 40461


class TestCsv:
    def test_export_then_import_into_another_merchant(
        self, run_cli: Any, tenant: Tenant, db: Database, server: LiveServer, tmp_path: Path
    ) -> None:
        created = batch(run_cli, tenant)
        output(run_cli("vouchers", "generate", created["id"], "--count", "25", "--issue"))
        exported = tmp_path / "vouchers.csv"
        result = run_cli("vouchers", "export", created["id"], "--output", str(exported))
        assert result.exit_code == 0
        rows = list(csv.DictReader(io.StringIO(exported.read_text())))
        assert len(rows) == 25 and rows[0]["status"] == "ISSUED"
        assert rows[0]["balance_minor"] == "300000" and rows[0]["batch"] == "GC"
        other = create_tenant(db, server, "Франшиза")
        batch(run_cli, other)
        imported = output(
            run_cli("vouchers", "import", str(exported), "--account", str(other.account_id))
        )
        assert (imported["created"], imported["skipped_existing"]) == (25, [])
        again = output(
            run_cli("vouchers", "import", str(exported), "--account", str(other.account_id))
        )
        assert again["created"] == 0 and len(again["skipped_existing"]) == 25
        balances = other.db.fetch(
            "SELECT status, balance_minor, origin FROM voucher WHERE account_id = :a",
            a=other.account_id,
        )
        assert {tuple(row.values()) for row in balances} == {("ISSUED", 300_000, "SELF")}
        other.client.close()

    def test_import_opening_balances_uses_pins_and_owners(
        self, run_cli: Any, tenant: Tenant, tmp_path: Path
    ) -> None:
        batch(run_cli, tenant)
        output(
            run_cli(
                "vouchers",
                "batch",
                "create",
                str(tenant.account_id),
                "--name",
                "Скидки",
                "--type",
                "DISCOUNT",
                "--discount-percent",
                "10",
                "--code",
                "SALE",
                "--uses-per-voucher",
                "3",
            )
        )
        customer = tenant.register(phone="+79990001133")
        file = tmp_path / "legacy.csv"
        file.write_text(
            "code;batch;status;balance_minor;used_count;customer;pin;expires_at\n"
            "OLD-1;GC;ISSUED;125000;1;;1234;2030-01-01\n"
            "OLD-2;GC;REDEEMED;0;2;;;\n"
            f"OLD-3;SALE;ISSUED;;1;{customer};;\n"
            "OLD-4;SALE;VOID;;0;;;\n"
        )
        result = output(
            run_cli("vouchers", "import", str(file), "--account", str(tenant.account_id))
        )
        assert result["created"] == 4
        shown = {
            code: output(run_cli("vouchers", "show", code, "--account", str(tenant.account_id)))
            for code in ("OLD-1", "OLD-2", "OLD-3", "OLD-4")
        }
        assert (shown["OLD-1"]["balance_minor"], shown["OLD-1"]["pin_protected"]) == (125_000, True)
        assert shown["OLD-1"]["expires_at"].startswith("2030-01-01")
        assert (shown["OLD-2"]["status"], shown["OLD-2"]["used_count"]) == ("REDEEMED", 2)
        assert shown["OLD-3"]["customer_id"] is not None and shown["OLD-3"]["used_count"] == 1
        assert shown["OLD-4"]["status"] == "VOID"
        assert [m["kind"] for m in shown["OLD-4"]["movements"]] == ["void", "import"]

    def test_a_bad_row_refuses_the_whole_file_naming_the_line(
        self, run_cli: Any, tenant: Tenant, tmp_path: Path
    ) -> None:
        batch(run_cli, tenant)
        file = tmp_path / "bad.csv"
        file.write_text("code,batch,status\nA-1,GC,ISSUED\nA-2,NOPE,ISSUED\n")
        result = run_cli("vouchers", "import", str(file), "--account", str(tenant.account_id))
        assert result.exit_code == 1 and "Строка 3" in json.loads(result.stderr)["error_message"]
        assert (
            tenant.db.scalar(
                "SELECT count(*) FROM voucher WHERE account_id = :a", a=tenant.account_id
            )
            == 0
        )
        duplicate = tmp_path / "duplicate.csv"
        duplicate.write_text("code,batch\nA-1,GC\nA-1,GC\n")
        refused = run_cli("vouchers", "import", str(duplicate), "--account", str(tenant.account_id))
        assert refused.exit_code == 1 and "Строка 3" in refused.output


class TestLifecycle:
    def test_show_issue_void_and_expire(self, run_cli: Any, tenant: Tenant) -> None:
        created = batch(run_cli, tenant, "--expiry", "fixed:2000-01-01")
        output(run_cli("vouchers", "generate", created["id"], "--count", "2"))
        codes_ = [
            row["code"]
            for row in tenant.db.fetch(
                "SELECT code FROM voucher WHERE account_id = :a ORDER BY serial_number",
                a=tenant.account_id,
            )
        ]
        customer = tenant.register()
        issued = output(run_cli("vouchers", "issue", codes_[0], "--customer", customer))
        assert issued["status"] == "EXPIRED"  # the batch's fixed date has passed
        voided = output(run_cli("vouchers", "void", codes_[1], "--reason", "брак"))
        assert voided["status"] == "VOID" and voided["balance_minor"] == 0
        expired = output(run_cli("vouchers", "expire-due", str(tenant.account_id)))
        assert expired == {"expired": 1}
        assert output(run_cli("vouchers", "expire-due", str(tenant.account_id))) == {"expired": 0}
        shown = output(run_cli("vouchers", "show", codes_[0]))
        assert (shown["status"], shown["balance_minor"]) == ("EXPIRED", 0)
        assert [m["kind"] for m in shown["movements"]] == ["expire", "issue"]

    def test_program_voucher_settings(self, run_cli: Any, tenant: Tenant) -> None:
        shown = output(
            run_cli(
                "program",
                "set",
                str(tenant.account_id),
                "--no-restore-gift-cards",
                "--no-personal-vouchers",
                "--voucher-stacking",
                "exclusive",
            )
        )
        assert (
            shown["restore_gift_cards_on_return"],
            shown["apply_personal_vouchers"],
            shown["voucher_stacking"],
        ) == (False, False, "exclusive")
