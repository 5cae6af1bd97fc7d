"""Reports over a scripted trading day, checked against the ledger itself."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.cli import cli
from loyalty.common.clock import Clock
from loyalty.operators.schemas import Role
from loyalty.reports import service as reports_service
from loyalty.reports.service import MAX_PERIOD_DAYS, Rollup
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.payloads import STORE_ID
from tests.support.vouchers import Operator, operator_client

PRODUCT_A = "a0000000-0000-4000-8000-00000000000a"
PRODUCT_B = "b0000000-0000-4000-8000-00000000000b"
OTHER_STORE = "7c1d0e2a-0000-4000-8000-0000000000aa"
CERTIFICATE_MINOR = 100_000
CERTIFICATE_PAID_MINOR = 30_000


def today() -> date:
    return datetime.now(UTC).date()


def ledger_points(tenant: Tenant, bucket: str, kind: str | None = None) -> int:
    """Σ of a bucket's entries, optionally only in transactions of one kind."""
    total = tenant.db.scalar(
        "SELECT coalesce(sum(e.amount_points), 0) FROM ledger_entry e"
        " JOIN ledger_transaction t ON t.account_id = e.account_id AND t.id = e.transaction_id"
        " WHERE e.account_id = :a AND e.bucket = :bucket"
        " AND (CAST(:kind AS text) IS NULL OR t.kind = :kind)",
        a=tenant.account_id,
        bucket=bucket,
        kind=kind,
    )
    return int(total)


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    text = response.content.decode("utf-8")[1:]
    assert "\r\n" in text and text.splitlines()[0].count(";") >= 1
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def trade_one_day(tenant: Tenant, operator: Operator) -> dict[str, str]:
    """Two customers and an anonymous buyer; a spend, a return and a gift certificate."""
    tenant.set_program(expiry_days=30)
    first, second = tenant.register(), tenant.register()
    # 2 × 1000.00 earns 5 % = 100 points.
    tenant.buy(first, [payloads.position(PRODUCT_A, 2, 1000)])
    # 350.00 paying 100 points: the first customer's whole balance; 12 points earned on 250.00.
    _, answer = tenant.buy(
        first,
        [payloads.position(PRODUCT_A, 3, 100), payloads.position(PRODUCT_B, 1, 50)],
        spending=True,
    )
    assert answer["bonusProgram"]["bonusValueToSpend"] == 100
    # The second customer earns 100 and returns half of it.
    returned_sale, _ = tenant.buy(second, [payloads.position(PRODUCT_A, 2, 1000)])
    response = tenant.post(
        "/retailsalesreturn",
        payloads.sales_return(
            payloads.new_id(), returned_sale, [payloads.position(PRODUCT_A, 1, 1000)]
        ),
    )
    assert response.status_code == 201, response.text
    # Outside the program, in another store, partly paid with a gift certificate.
    synced = tenant.db.fetch(
        "INSERT INTO moysklad_retail_store (account_id, id, name, synced_at)"
        " VALUES (:a, :store, 'Магазин на Тверской', now()) RETURNING id",
        a=tenant.account_id,
        store=STORE_ID,
    )
    assert synced == [{"id": STORE_ID}]
    card = operator.certificate(CERTIFICATE_MINOR)
    anonymous = payloads.sale(
        payloads.new_id(),
        None,
        [payloads.position(PRODUCT_B, 1, 500)],
        retailStore=payloads.store(OTHER_STORE),
        giftCards=[{"id": card["id"], "name": card["code"], "paymentSum": CERTIFICATE_PAID_MINOR}],
    )
    response = tenant.post("/retaildemand", anonymous)
    assert response.status_code == 201, response.text
    return {"first": first, "second": second}


def daily(operator: Operator, start: date, end: date, **params: Any) -> httpx.Response:
    return operator.get(
        "/reports/daily", params={"from": start.isoformat(), "to": end.isoformat()} | params
    )


class TestTradingDay:
    def test_figures_match_the_ledger_before_and_after_expiry(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        customers = trade_one_day(tenant, operator)
        expires_soon = (clock.now() + timedelta(days=10)).isoformat()
        operator.certificate(20_000, expiry={"type": "FIXED", "expiresAt": expires_soon})

        liability = operator.ok(operator.get("/reports/liability"))
        # 12 left to the first customer, 50 to the second.
        assert ledger_points(tenant, "available") == 62
        assert liability["availablePoints"] == 62
        assert liability["availableValueMinor"] == 6_200
        assert (liability["pendingPoints"], liability["debtPoints"]) == (0, 0)
        assert [(item["withinDays"], item["points"]) for item in liability["expiring"]] == [
            (30, 62),
            (60, 62),
            (90, 62),
        ]
        assert liability["giftCertificates"] == {
            "count": 2,
            "balanceMinor": CERTIFICATE_MINOR - CERTIFICATE_PAID_MINOR + 20_000,
        }

        report = operator.ok(daily(operator, today() - timedelta(days=1), today()))
        assert report["timezone"] == "UTC" and report["retailStoreId"] is None
        by_store = {item["retailStoreId"]: item for item in report["items"]}
        assert set(by_store) == {STORE_ID, OTHER_STORE}
        program_store, other_store = by_store[STORE_ID], by_store[OTHER_STORE]
        assert program_store["earnedPoints"] == 212 == -ledger_points(tenant, "issued", "sale")
        assert program_store["spentPoints"] == 100 == ledger_points(tenant, "redeemed", "sale")
        assert program_store["reversedEarnedPoints"] == 50
        assert program_store["reversedSpentPoints"] == 0
        assert program_store["expiredPoints"] == 0
        assert program_store["salesWithProgramCount"] == 3
        assert program_store["salesWithProgramMinor"] == 200_000 + 25_000 + 200_000
        assert program_store["salesWithoutProgramCount"] == 0
        assert (program_store["returnsCount"], program_store["returnsMinor"]) == (1, 100_000)
        assert other_store["salesWithoutProgramCount"] == 1
        assert other_store["salesWithoutProgramMinor"] == 50_000
        assert other_store["salesWithProgramCount"] == other_store["earnedPoints"] == 0
        assert report["totals"]["earnedPoints"] == 212
        assert report["totals"]["salesWithoutProgramMinor"] == 50_000

        # Stores are named from the synced catalogue; one not synced yet has no name.
        assert program_store["retailStoreName"] == "Магазин на Тверской"
        assert other_store["retailStoreName"] is None
        only_other = operator.ok(
            daily(operator, today() - timedelta(days=1), today(), retailStoreId=OTHER_STORE)
        )
        assert [item["retailStoreId"] for item in only_other["items"]] == [OTHER_STORE]

        # A month later every lot has expired; nothing has posted the expiries yet.
        clock.advance(timedelta(days=30, seconds=1))
        expiry_period = (today(), (clock.now() + timedelta(days=1)).date())
        liability = operator.ok(operator.get("/reports/liability"))
        assert liability["availablePoints"] == 0
        assert all(item["points"] == 0 for item in liability["expiring"])
        # The certificate past its expiry is no longer owed.
        assert liability["giftCertificates"] == {
            "count": 1,
            "balanceMinor": CERTIFICATE_MINOR - CERTIFICATE_PAID_MINOR,
        }
        expired = operator.ok(daily(operator, *expiry_period))["items"]
        expired = [item for item in expired if item["expiredPoints"]]
        assert {item["retailStoreId"] for item in expired} == {None}
        assert sum(item["expiredPoints"] for item in expired) == 62

        # The first customer's next purchase posts their expiry; the second's stays lazy.
        tenant.buy(customers["first"], [payloads.position(PRODUCT_B, 1, 200)])
        assert ledger_points(tenant, "expired", "expiry") == 12
        report = operator.ok(daily(operator, *expiry_period))
        assert report["totals"]["expiredPoints"] == 62
        # Only the 10 points just earned are outstanding, whatever is posted or not.
        liability = operator.ok(operator.get("/reports/liability"))
        assert liability["availablePoints"] == 10

    def test_points_waiting_for_activation_are_pending_until_they_activate(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        tenant.set_program(activation_delay_days=14)
        customer = tenant.register()
        tenant.buy(customer, [payloads.position(PRODUCT_A, 1, 2000)])
        liability = operator.ok(operator.get("/reports/liability"))
        assert (liability["availablePoints"], liability["pendingPoints"]) == (0, 100)
        assert liability["pendingValueMinor"] == 10_000
        clock.advance(timedelta(days=14, seconds=1))
        liability = operator.ok(operator.get("/reports/liability"))
        assert (liability["availablePoints"], liability["pendingPoints"]) == (100, 0)

    def test_points_owed_after_a_return_are_debt_not_negative_balance(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        earning_sale, _ = tenant.buy(customer, [payloads.position(PRODUCT_A, 2, 1000)])
        tenant.buy(customer, [payloads.position(PRODUCT_A, 2, 100)], spending=True)
        # The 100 points earned pay 100.00 of 200.00, which earns 5; returning the first sale
        # takes back those 5 and owes the other 95.
        response = tenant.post(
            "/retailsalesreturn",
            payloads.sales_return(
                payloads.new_id(), earning_sale, [payloads.position(PRODUCT_A, 2, 1000)]
            ),
        )
        assert response.status_code == 201, response.text
        liability = operator.ok(operator.get("/reports/liability"))
        assert liability["debtPoints"] == -ledger_points(tenant, "debt") == 95
        assert liability["availablePoints"] == ledger_points(tenant, "available") == 0
        report = operator.ok(daily(operator, today() - timedelta(days=1), today()))
        assert report["totals"]["reversedEarnedPoints"] == 100
        assert report["totals"]["spentPoints"] == ledger_points(tenant, "redeemed", "sale")

    def test_another_account_sees_none_of_it(
        self, tenant: Tenant, other_tenant: Tenant, operator: Operator
    ) -> None:
        trade_one_day(tenant, operator)
        other = operator_client(other_tenant, Role.read_only)
        liability = other.ok(other.get("/reports/liability"))
        assert liability["availablePoints"] == 0
        assert liability["giftCertificates"] == {"count": 0, "balanceMinor": 0}
        assert other.ok(daily(other, today() - timedelta(days=1), today()))["items"] == []
        assert other.ok(other.get("/reports/tiers"))["items"] == [
            {"tier": "Без уровня", "customers": 0}
        ]


def roll_up(tenant: Tenant, now: datetime) -> Rollup:
    async def work(session: AsyncSession) -> Rollup:
        return await reports_service.roll_up(session, tenant.account_id, now)

    result: Rollup = tenant.db.run(work)
    return result


def rolled_rows(tenant: Tenant) -> int:
    count = tenant.db.scalar(
        "SELECT count(*) FROM report_daily_store WHERE account_id = :a", a=tenant.account_id
    )
    return int(count)


class TestRollup:
    def test_closed_days_read_from_the_rollup_give_the_same_figures(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        trade_one_day(tenant, operator)
        period = (today() - timedelta(days=1), today())
        live = operator.ok(daily(operator, *period))
        only_other = operator.ok(daily(operator, *period, retailStoreId=OTHER_STORE))

        # Today is still open: nothing to roll up (the account opened today).
        assert roll_up(tenant, datetime.now(UTC)).days_added == 0
        assert rolled_rows(tenant) == 0
        # Once today has closed, it is rolled up once, a row per store.
        tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=11)
        assert roll_up(tenant, tomorrow) == Rollup(tenant.account_id, today(), 1)
        assert roll_up(tenant, tomorrow).days_added == 0
        assert rolled_rows(tenant) == 2

        assert operator.ok(daily(operator, *period)) == live
        assert operator.ok(daily(operator, *period, retailStoreId=OTHER_STORE)) == only_other
        csv_rows = read_csv(daily(operator, *period, format="csv"))
        assert {row["retail_store_id"] for row in csv_rows} == {STORE_ID, OTHER_STORE}

        # A period over rolled-up and open days: today from the rollup, the expiries live.
        clock.advance(timedelta(days=30, seconds=1))
        report = operator.ok(daily(operator, today(), (clock.now() + timedelta(days=1)).date()))
        assert report["totals"]["earnedPoints"] == 212
        assert report["totals"]["expiredPoints"] == 62

    def test_the_report_reads_rolled_up_days_from_the_rollup(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        trade_one_day(tenant, operator)
        roll_up(tenant, datetime.now(UTC) + timedelta(days=1, minutes=11))
        changed = tenant.db.fetch(
            "UPDATE report_daily_store SET earned_points = earned_points + 1000"
            " WHERE account_id = :a AND retail_store_key = :store RETURNING earned_points",
            a=tenant.account_id,
            store=STORE_ID,
        )
        assert changed == [{"earned_points": 1212}]
        report = operator.ok(daily(operator, today(), today()))
        assert report["totals"]["earnedPoints"] == 1212


def test_reports_are_documented_with_their_csv_form(tenant: Tenant) -> None:
    paths = httpx.get(f"{tenant.server.base_url}/openapi.json").json()["paths"]
    for report in ("liability", "daily", "tiers"):
        answers = paths[f"/api/v1/reports/{report}"]["get"]["responses"]["200"]["content"]
        assert {"application/json", "text/csv"} <= set(answers)


class TestCsv:
    def test_every_report_downloads_as_semicolon_csv_for_excel(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        trade_one_day(tenant, operator)
        [liability] = read_csv(operator.get("/reports/liability", params={"format": "csv"}))
        assert liability["available_points"] == "62"
        assert liability["expiring_30_days_points"] == "62"
        assert liability["gift_certificates_balance_minor"] == "70000"

        response = daily(operator, today() - timedelta(days=1), today(), format="csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = read_csv(response)
        by_store = {row["retail_store_id"]: row for row in rows}
        assert by_store[STORE_ID]["earned_points"] == "212"
        assert by_store[STORE_ID]["retail_store_name"] == "Магазин на Тверской"
        assert by_store[OTHER_STORE]["retail_store_name"] == ""
        assert by_store[OTHER_STORE]["sales_without_program_minor"] == "50000"
        assert by_store[STORE_ID]["day"] == by_store[OTHER_STORE]["day"]
        date.fromisoformat(by_store[STORE_ID]["day"])

        tiers = read_csv(operator.get("/reports/tiers", params={"format": "csv"}))
        assert tiers == [{"tier": "Без уровня", "customers": "2"}]

    def test_unknown_format_is_refused(self, operator: Operator) -> None:
        response = operator.get("/reports/tiers", params={"format": "xlsx"})
        assert response.status_code == 412
        assert response.json()["parameter"] == "format"


class TestTiers:
    def test_without_tiers_every_customer_is_without_a_tier(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        for _ in range(3):
            tenant.register()
        assert operator.ok(operator.get("/reports/tiers")) == {
            "items": [{"tier": "Без уровня", "customers": 3}]
        }

    def test_customers_are_counted_in_the_tier_they_hold(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        tiers = {
            "windowMonths": 12,
            "items": [
                {"name": "Бронза", "thresholdMinor": 0, "earnPercent": 3, "maxSpendPercent": 20},
                {
                    "name": "Серебро",
                    "thresholdMinor": 100_000,
                    "earnPercent": 5,
                    "maxSpendPercent": 30,
                },
                {
                    "name": "Золото",
                    "thresholdMinor": 500_000,
                    "earnPercent": 10,
                    "maxSpendPercent": 50,
                },
            ],
        }
        operator.ok(operator.client.put("/program/tiers", json=tiers))
        _quiet, small, silver = (tenant.register() for _ in range(3))
        tenant.buy(small, [payloads.position(quantity=1, price=100)])
        tenant.buy(silver, [payloads.position(quantity=2, price=600)])
        assert operator.ok(operator.get("/reports/tiers"))["items"] == [
            {"tier": "Без уровня", "customers": 0},
            {"tier": "Бронза", "customers": 2},  # `_quiet` has bought nothing yet
            {"tier": "Серебро", "customers": 1},
            {"tier": "Золото", "customers": 0},
        ]


class TestAccess:
    @pytest.mark.parametrize("path", ["/reports/liability", "/reports/tiers"])
    def test_read_only_key_is_enough(self, tenant: Tenant, path: str) -> None:
        reader = operator_client(tenant, Role.read_only)
        assert reader.get(path).status_code == 200
        assert daily(reader, today(), today()).status_code == 200

    @pytest.mark.parametrize("key", [None, "wrong-key"])
    def test_missing_or_wrong_key_is_401(self, tenant: Tenant, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = httpx.get(
            f"{tenant.server.base_url}/api/v1/reports/liability", headers=headers, timeout=30
        )
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


class TestPeriod:
    def test_from_after_to_is_refused_naming_the_field(self, operator: Operator) -> None:
        response = daily(operator, today(), today() - timedelta(days=1))
        assert response.status_code == 412
        problem = response.json()
        assert problem["parameter"] == "from"
        assert "позже даты окончания" in problem["detail"]

    def test_longest_period_is_accepted_and_one_more_day_refused(self, operator: Operator) -> None:
        start = date(2026, 1, 1)
        longest = start + timedelta(days=MAX_PERIOD_DAYS - 1)
        assert operator.ok(daily(operator, start, longest))["items"] == []
        response = daily(operator, start, longest + timedelta(days=1))
        assert response.status_code == 412
        problem = response.json()
        assert problem["parameter"] == "to" and str(MAX_PERIOD_DAYS) in problem["detail"]

    @pytest.mark.parametrize(
        ("params", "parameter"),
        [
            ({"from": "2026-13-01", "to": "2026-12-31"}, "from"),
            ({"from": "2026-01-01"}, "to"),
            ({"from": "2026-01-01", "to": "2026-01-02", "retailStoreId": ""}, "retailStoreId"),
        ],
    )
    def test_malformed_parameters_are_named(
        self, operator: Operator, params: dict[str, str], parameter: str
    ) -> None:
        response = operator.get("/reports/daily", params=params)
        assert response.status_code == 412, response.text
        problem = response.json()
        assert problem["parameter"] == parameter
        assert problem["detail"]


class TestCommandLine:
    def test_liability_and_daily_as_json_and_csv(
        self, tenant: Tenant, operator: Operator, database_url: str
    ) -> None:
        trade_one_day(tenant, operator)
        env = {"DATABASE_URL": database_url}
        account = str(tenant.account_id)
        result = CliRunner().invoke(cli, ["report", "liability", "--account", account], env=env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["availablePoints"] == 62

        period = ["--from", (today() - timedelta(days=1)).isoformat(), "--to", today().isoformat()]
        result = CliRunner().invoke(
            cli, ["report", "daily", "--account", account, *period, "--csv"], env=env
        )
        assert result.exit_code == 0, result.output
        assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode()[1:]), delimiter=";"))
        assert {row["retail_store_id"]: row["earned_points"] for row in rows} == {
            STORE_ID: "212",
            OTHER_STORE: "0",
        }

        result = CliRunner().invoke(cli, ["report", "rollup", "--account", account], env=env)
        assert result.exit_code == 0, result.output
        [rolled] = json.loads(result.stdout)
        assert rolled["account_id"] == account
        assert date.fromisoformat(rolled["through_day"]) < today()

        unknown = CliRunner().invoke(
            cli, ["report", "rollup", "--account", str(uuid.uuid4())], env=env
        )
        assert unknown.exit_code == 1
        assert "не найден" in json.loads(unknown.stderr)["error_message"]

        reversed_period = ["--from", today().isoformat(), "--to", "2000-01-01"]
        result = CliRunner().invoke(
            cli, ["report", "daily", "--account", account, *reversed_period], env=env
        )
        assert result.exit_code == 1
        assert "позже даты окончания" in result.stderr
