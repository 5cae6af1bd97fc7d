"""Tiers: the operator API, the tier's percents at the till, and moves up and down on sales,
returns and the window sliding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.clock import Clock
from loyalty.operators.schemas import Role
from loyalty.tiers import service as tiers_service
from loyalty.tiers.rules import add_months, month_of
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.vouchers import Operator, operator_client

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"

TIERS: dict[str, Any] = {
    "windowMonths": 12,
    "items": [
        {"name": "Бронза", "thresholdMinor": 0, "earnPercent": 3, "maxSpendPercent": 20},
        {"name": "Серебро", "thresholdMinor": 100_000, "earnPercent": 5, "maxSpendPercent": 30},
        {"name": "Золото", "thresholdMinor": 500_000, "earnPercent": 10, "maxSpendPercent": 50},
    ],
}


def put(operator: Operator, path: str, body: Any) -> httpx.Response:
    return operator.client.put(path, json=body)


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 412, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def with_tiers(operator: Operator, body: dict[str, Any] | None = None) -> None:
    operator.ok(put(operator, "/program/tiers", body or TIERS))


def stored_tier(tenant: Tenant, ms_id: str) -> str | None:
    rows = tenant.db.fetch(
        "SELECT t.tier_name FROM customer_tier t JOIN customer c"
        " ON c.account_id = t.account_id AND c.id = t.customer_id"
        " WHERE c.account_id = :a AND c.moysklad_id = :m",
        a=tenant.account_id,
        m=ms_id,
    )
    assert len(rows) == 1
    name: str | None = rows[0]["tier_name"]
    return name


def changes(tenant: Tenant, ms_id: str) -> list[tuple[str | None, str | None, str]]:
    rows = tenant.db.fetch(
        "SELECT h.from_tier, h.to_tier, h.reason FROM customer_tier_change h JOIN customer c"
        " ON c.account_id = h.account_id AND c.id = h.customer_id"
        " WHERE c.account_id = :a AND c.moysklad_id = :m ORDER BY h.id",
        a=tenant.account_id,
        m=ms_id,
    )
    return [(row["from_tier"], row["to_tier"], row["reason"]) for row in rows]


def quote(tenant: Tenant, ms_id: str, price: Any, *, spending: bool = False) -> dict[str, Any]:
    answer = tenant.recalc(
        payloads.recalc(ms_id, [payloads.position(PRODUCT, 1, price)], spending=spending)
    )
    bonus: dict[str, Any] = answer["bonusProgram"]
    return bonus


def next_month(clock: Clock) -> None:
    """Move the clock to the middle of the next calendar month (UTC), whatever today is."""
    now = clock.now()
    target = add_months(month_of(now), 1)
    clock.advance(datetime(target.year, target.month, 15, 12, tzinfo=UTC) - now)


def reevaluate(tenant: Tenant, clock: Clock, batch_size: int = 100) -> int:
    async def work(session: AsyncSession) -> int:
        return await tiers_service.reevaluate_tiers(
            session, tenant.account_id, clock.now(), batch_size
        )

    return tenant.db.run(work)


class TestOperatorApi:
    def test_default_is_no_tiers_and_a_put_replaces_them(self, operator: Operator) -> None:
        assert operator.ok(operator.get("/program/tiers")) == {"windowMonths": 12, "items": []}
        saved = operator.ok(put(operator, "/program/tiers", TIERS | {"windowMonths": 6}))
        assert saved == TIERS | {"windowMonths": 6}
        assert operator.ok(operator.get("/program/tiers")) == saved
        operator.ok(put(operator, "/program/tiers", {"windowMonths": 6, "items": []}))
        assert operator.ok(operator.get("/program/tiers"))["items"] == []

    def test_read_only_reads_operator_and_read_only_cannot_change(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        with_tiers(operator)
        reader = operator_client(tenant, Role.read_only)
        assert reader.ok(reader.get("/program/tiers"))["items"][1]["name"] == "Серебро"
        for role in (Role.read_only, Role.operator):
            response = put(operator_client(tenant, role), "/program/tiers", TIERS)
            assert response.status_code == 403

    def test_validation_names_the_field_in_russian(self, operator: Operator) -> None:
        items = TIERS["items"]
        cases = [
            (
                {"items": [items[1], items[0]]},
                "items[1].thresholdMinor",
                "строго возрастать",
            ),
            (
                {"items": [items[0], items[1] | {"thresholdMinor": 0}]},
                "items[1].thresholdMinor",
                "строго возрастать",
            ),
            ({"items": [items[0] | {"earnPercent": 101}]}, "items[0].earnPercent", "от 0 до 100"),
            (
                {"items": [items[0] | {"maxSpendPercent": -1}]},
                "items[0].maxSpendPercent",
                "от 0 до 100",
            ),
            (
                {"items": [items[0] | {"earnPercent": 1.005}]},
                "items[0].earnPercent",
                "двух знаков",
            ),
            ({"items": [items[0] | {"name": "  "}]}, "items[0].name", "название"),
            (
                {"items": [items[0], items[1] | {"name": "бронза"}]},
                "items[1].name",
                "уже есть",
            ),
            ({"items": [items[0] | {"thresholdMinor": -5}]}, "items[0].thresholdMinor", "порог"),
            ({"windowMonths": 0, "items": []}, "windowMonths", "месяцев"),
        ]
        for body, parameter, words in cases:
            detail = problem(put(operator, "/program/tiers", body))
            assert detail["parameter"] == parameter, (body, detail)
            assert parameter in detail["detail"] and words in detail["detail"], detail
        malformed = put(operator, "/program/tiers", {"items": [{"name": "x"}]})
        assert malformed.status_code in (400, 412, 422)
        assert "items" in malformed.json()["parameter"]
        assert operator.ok(operator.get("/program/tiers"))["items"] == []

    def test_hostile_bodies_are_refused_never_a_server_error(self, operator: Operator) -> None:
        tier = TIERS["items"][0]
        bodies: list[Any] = [
            {"items": [tier | {"name": "a\u0000b"}]},
            {"items": [tier | {"thresholdMinor": 10**30}]},
            {"items": [tier | {"earnPercent": "abc"}]},
            {"items": [tier | {"earnPercent": 1e300}]},
            {"items": [tier | {"thresholdMinor": 1.5}]},
            {"windowMonths": 2**70, "items": []},
            {"items": [tier] * 21},
            {"items": "many"},
            [],
        ]
        for body in bodies:
            response = put(operator, "/program/tiers", body)
            assert 400 <= response.status_code < 500, (body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        raw = operator.client.put(
            "/program/tiers",
            content=b'{"items": [{"name": "x", "thresholdMinor": 0, "earnPercent": NaN,'
            b' "maxSpendPercent": 1}]}',
            headers={"content-type": "application/json"},
        )
        assert 400 <= raw.status_code < 500
        assert operator.ok(operator.get("/program/tiers"))["items"] == []

    def test_every_change_is_audited_with_before_and_after(self, operator: Operator) -> None:
        with_tiers(operator)
        with_tiers(operator)  # the same list again: no change, no audit row
        changed = TIERS | {"items": TIERS["items"][:2]}
        with_tiers(operator, changed)
        rows = operator.ok(operator.get("/audit", params={"entityType": "program"}))["items"]
        assert [row["action"] for row in rows] == ["program.tiers.update"] * 2
        latest, first = rows
        assert first["before"] == {"windowMonths": 12, "items": []}
        assert [item["name"] for item in first["after"]["items"]] == ["Бронза", "Серебро", "Золото"]
        assert latest["before"] == first["after"]
        assert [item["name"] for item in latest["after"]["items"]] == ["Бронза", "Серебро"]
        assert latest["after"]["items"][1] == {
            "name": "Серебро",
            "thresholdMinor": 100_000,
            "earnPercent": "5",
            "maxSpendPercent": "30",
        }
        assert latest["actor"].startswith("operator-key:")


class TestAtTheTill:
    def test_recalc_uses_the_tier_percents_and_names_the_gap(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        assert quote(tenant, customer, 100)["bonusValueToEarn"] == 5  # the program's 5 %
        with_tiers(operator)
        bronze = quote(tenant, customer, 100)
        assert bronze["bonusValueToEarn"] == 3
        assert (
            "Уровень «Бронза». До уровня «Серебро» осталось 1 000,00 ₽"
            in (bronze["receiptExtraInfo"])
        )
        tenant.buy(customer, [payloads.position(PRODUCT, 1, "1250.00")])  # 3 % of 1250 = 37
        assert tenant.balance(customer) == 37
        silver = quote(tenant, customer, 50, spending=True)
        # Silver: 5 % earned; at most 30 % of the receipt paid with points (the program: 50 %).
        assert silver["bonusValueToSpend"] == 15
        assert (
            "Уровень «Серебро». До уровня «Золото» осталось 3 750,00 ₽"
            in (silver["receiptExtraInfo"])
        )
        assert quote(tenant, customer, 100)["bonusValueToEarn"] == 5
        tenant.buy(customer, [payloads.position(PRODUCT, 1, "3750.00")])  # Silver: 5 % = 187
        gold = quote(tenant, customer, 100)
        assert gold["bonusValueToEarn"] == 10
        assert gold["receiptExtraInfo"].endswith("Уровень «Золото».")
        assert changes(tenant, customer) == [
            (None, "Бронза", "program"),
            ("Бронза", "Серебро", "sale"),
            ("Серебро", "Золото", "sale"),
        ]
        assert stored_tier(tenant, customer) == "Золото"

    def test_commit_refuses_spending_above_the_tier_cap(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        with_tiers(operator)
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])  # 30 points, now Silver
        body = payloads.sale(
            payloads.new_id(),
            customer,
            [payloads.position(PRODUCT, 1, 100, discounted_price=60)],
            spend=40,
        )
        refused = tenant.post("/retaildemand", body)
        assert refused.status_code == 412, refused.text
        error = refused.json()["errors"][0]
        assert error["code"] == 41202 and "не больше 30" in error["error_message"], error
        allowed = body | {
            "meta": payloads.meta("retaildemand", payloads.new_id()),
            "positions": [payloads.position(PRODUCT, 1, 100, discounted_price=70)],
            "bonusProgram": {"bonusValueToSpend": 30, "bonusValueToEarn": 0},
        }
        assert tenant.post("/retaildemand", allowed).status_code == 201, allowed

    def test_a_return_moves_the_customer_back_down(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        with_tiers(operator)
        sale_id, _ = tenant.buy(customer, [payloads.position(PRODUCT, 2, 600)])
        assert stored_tier(tenant, customer) == "Серебро"
        returned = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT, 1, 600)]
        )
        assert tenant.post("/retailsalesreturn", returned).status_code == 201
        assert stored_tier(tenant, customer) == "Бронза"
        assert changes(tenant, customer)[-1] == ("Серебро", "Бронза", "return")
        assert (
            "До уровня «Серебро» осталось 400,00 ₽"
            in quote(tenant, customer, 1)["receiptExtraInfo"]
        )
        # A replayed return counts once.
        assert tenant.post("/retailsalesreturn", returned).status_code == 201
        assert "осталось 400,00 ₽" in quote(tenant, customer, 1)["receiptExtraInfo"]

    def test_an_account_without_tiers_keeps_no_tier_state(self, tenant: Tenant) -> None:
        customer = tenant.register()
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
        answer = quote(tenant, customer, 100)
        assert answer["bonusValueToEarn"] == 5 and "Уровень" not in answer["receiptExtraInfo"]
        assert (
            tenant.db.scalar(
                "SELECT count(*) FROM customer_purchase_month WHERE account_id = :a",
                a=tenant.account_id,
            )
            == 0
        )


class TestCustomerView:
    def test_an_operator_sees_the_standing_and_the_history(
        self, tenant: Tenant, operator: Operator
    ) -> None:
        customer = tenant.register()
        with_tiers(operator)
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 1250)])
        reader = operator_client(tenant, Role.read_only)
        view = reader.ok(reader.get(f"/customers/{customer}/tier"))
        assert view | {"customerId": None, "history": None} == {
            "customerId": None,
            "windowMonths": 12,
            "windowTotalMinor": 125_000,
            "tier": "Серебро",
            "nextTier": "Золото",
            "toNextTierMinor": 375_000,
            "storedTier": "Серебро",
            "history": None,
        }
        assert [(item["from"], item["to"], item["reason"]) for item in view["history"]] == [
            (None, "Бронза", "program"),
            ("Бронза", "Серебро", "sale"),
        ]
        assert view["history"][1]["windowTotalMinor"] == 125_000
        missing = reader.get(f"/customers/{payloads.new_id()}/tier")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


class TestSwitchingOn:
    def test_purchases_before_tiers_existed_count(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        regular, returner = tenant.register(), tenant.register()
        tenant.buy(regular, [payloads.position(PRODUCT, 1, 1000)])
        sale_id, _ = tenant.buy(returner, [payloads.position(PRODUCT, 2, 500)])
        returned = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT, 1, 500)]
        )
        assert tenant.post("/retailsalesreturn", returned).status_code == 201
        with_tiers(operator)
        assert quote(tenant, regular, 100)["bonusValueToEarn"] == 5  # Silver at once
        assert quote(tenant, returner, 100)["bonusValueToEarn"] == 3  # 1000 − 500: Bronze
        assert reevaluate(tenant, clock) == 2
        assert stored_tier(tenant, regular) == "Серебро"
        assert stored_tier(tenant, returner) == "Бронза"
        assert changes(tenant, regular) == [(None, "Серебро", "program")]


class TestWindow:
    def test_months_leaving_the_window_move_the_customer_down(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        customer = tenant.register()
        with_tiers(operator, TIERS | {"windowMonths": 2})
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
        assert stored_tier(tenant, customer) == "Серебро"
        next_month(clock)  # still inside a two-month window
        assert reevaluate(tenant, clock) == 0
        assert quote(tenant, customer, 100)["bonusValueToEarn"] == 5
        next_month(clock)  # the purchase's month has left the window
        # Read lazily at the till before any worker ran…
        assert quote(tenant, customer, 100)["bonusValueToEarn"] == 3
        assert stored_tier(tenant, customer) == "Серебро"
        # …and stored by the worker, once.
        assert reevaluate(tenant, clock) == 1
        assert reevaluate(tenant, clock) == 0
        assert stored_tier(tenant, customer) == "Бронза"
        assert changes(tenant, customer)[-1] == ("Серебро", "Бронза", "window")

    def test_a_commit_after_the_window_slid_records_the_drop_then_the_sale(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        customer = tenant.register()
        with_tiers(operator, TIERS | {"windowMonths": 1})
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 5000)])
        assert stored_tier(tenant, customer) == "Золото"
        next_month(clock)
        _, answer = tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
        assert answer["bonusProgram"]["bonusValueToEarn"] == 30  # priced at Bronze
        assert changes(tenant, customer)[-2:] == [
            ("Золото", "Бронза", "window"),
            ("Бронза", "Серебро", "sale"),
        ]

    def test_changed_thresholds_are_applied_by_the_worker_in_batches(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        customers = [tenant.register() for _ in range(3)]
        with_tiers(operator)
        for customer in customers:
            tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
        raised = [TIERS["items"][0], TIERS["items"][1] | {"thresholdMinor": 200_000}]
        with_tiers(operator, {"windowMonths": 12, "items": raised})
        assert reevaluate(tenant, clock, batch_size=2) == 2
        assert reevaluate(tenant, clock, batch_size=2) == 1
        assert reevaluate(tenant, clock, batch_size=2) == 0
        for customer in customers:
            assert stored_tier(tenant, customer) == "Бронза"
            assert changes(tenant, customer)[-1] == ("Серебро", "Бронза", "program")

    def test_the_worker_skips_customers_locked_by_a_till(
        self, tenant: Tenant, operator: Operator, clock: Clock
    ) -> None:
        first, second = tenant.register(), tenant.register()
        with_tiers(operator)
        for customer in (first, second):
            tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
        with_tiers(operator, {"windowMonths": 12, "items": TIERS["items"][:1]})

        async def work(session: AsyncSession) -> tuple[int, int]:
            from sqlalchemy import text

            from loyalty.db.engine import make_engine, make_sessionmaker

            await session.execute(
                text(
                    "SELECT 1 FROM customer_tier t JOIN customer c ON c.account_id = t.account_id"
                    " AND c.id = t.customer_id WHERE c.account_id = :a AND c.moysklad_id = :m"
                    " FOR UPDATE OF t"
                ),
                {"a": tenant.account_id, "m": first},
            )
            engine = make_engine(tenant.db.settings, pooled=False)
            try:
                async with make_sessionmaker(engine)() as worker, worker.begin():
                    done = await tiers_service.reevaluate_tiers(
                        worker, tenant.account_id, clock.now(), 10
                    )
                async with make_sessionmaker(engine)() as worker, worker.begin():
                    again = await tiers_service.reevaluate_tiers(
                        worker, tenant.account_id, clock.now(), 10
                    )
            finally:
                await engine.dispose()
            return done, again

        assert tenant.db.run(work) == (1, 0)
        assert reevaluate(tenant, clock) == 1
        assert stored_tier(tenant, first) == stored_tier(tenant, second) == "Бронза"
