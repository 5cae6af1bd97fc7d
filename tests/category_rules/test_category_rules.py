"""Category rules: earn percent per folder or product, exclusions from earning and spending,
through recalc, commit and return; the operator API with validation and audit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from loyalty.operators.schemas import Role
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.vouchers import Operator, operator_client

FOOD = "f0000000-0000-4000-8000-000000000001"
DAIRY = "f0000000-0000-4000-8000-000000000002"  # inside FOOD, no rule of its own
TOBACCO = "f0000000-0000-4000-8000-000000000003"
CLEARANCE = "f0000000-0000-4000-8000-000000000004"

YOGURT = "a0000000-0000-4000-8000-000000000001"  # DAIRY → FOOD: 10 %
MILK = "a0000000-0000-4000-8000-000000000002"  # product rule: 15 %
MILK_1L = "a0000000-0000-4000-8000-000000000003"  # a variant of MILK
CIGARETTES = "a0000000-0000-4000-8000-000000000004"  # TOBACCO: no earning, no spending
CIGARS = "a0000000-0000-4000-8000-000000000005"  # TOBACCO, but its own rule: 20 %
SHIRT = "a0000000-0000-4000-8000-000000000006"  # CLEARANCE: no spending
BOOK = "a0000000-0000-4000-8000-000000000007"  # no folder: the program's 5 %
UNSYNCED = "a0000000-0000-4000-8000-000000000008"  # not in the catalogue, has a product rule

RULES: list[dict[str, Any]] = [
    {"target": "folder", "id": FOOD, "earnPercent": 10},
    {"target": "folder", "id": TOBACCO, "noEarn": True, "noSpend": True},
    {"target": "folder", "id": CLEARANCE, "noSpend": True},
    {"target": "product", "id": MILK, "earnPercent": 15},
    {"target": "product", "id": CIGARS, "earnPercent": 20},
    {"target": "product", "id": UNSYNCED, "earnPercent": 1.5},
]


def put(operator: Operator, body: Any) -> httpx.Response:
    return operator.client.put("/program/category-rules", json=body)


def seed_catalogue(tenant: Tenant) -> None:
    folders = [(FOOD, None), (DAIRY, FOOD), (TOBACCO, None), (CLEARANCE, None)]
    for folder_id, parent_id in folders:
        tenant.db.fetch(
            "INSERT INTO moysklad_product_folder (account_id, id, name, parent_id, synced_at)"
            " VALUES (:a, :id, 'папка', :parent, now()) RETURNING id",
            a=tenant.account_id,
            id=folder_id,
            parent=parent_id,
        )
    products = [
        (YOGURT, "product", DAIRY, None),
        (MILK, "product", DAIRY, None),
        (MILK_1L, "variant", DAIRY, MILK),
        (CIGARETTES, "product", TOBACCO, None),
        (CIGARS, "product", TOBACCO, None),
        (SHIRT, "product", CLEARANCE, None),
        (BOOK, "product", None, None),
    ]
    for product_id, kind, folder_id, parent_product in products:
        tenant.db.fetch(
            "INSERT INTO moysklad_product (account_id, id, kind, name, folder_id, product_id,"
            " synced_at) VALUES (:a, :id, :kind, 'товар', :folder, :product, now()) RETURNING id",
            a=tenant.account_id,
            id=product_id,
            kind=kind,
            folder=folder_id,
            product=parent_product,
        )


@pytest.fixture
def ruled(tenant: Tenant, operator: Operator) -> Tenant:
    seed_catalogue(tenant)
    operator.ok(put(operator, {"items": RULES}))
    return tenant


def by_product(answer: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in answer["positions"]:
        found.setdefault(item["assortment"]["meta"]["id"], []).append(item)
    return found


def sale_lines(tenant: Tenant, sale_ms_id: str) -> dict[str, tuple[int, int]]:
    rows = tenant.db.fetch(
        "SELECT l.assortment_id, l.spent_points, l.earned_points FROM sale_line l"
        " JOIN sale s ON s.account_id = l.account_id AND s.id = l.sale_id"
        " WHERE s.account_id = :a AND s.moysklad_id = :m",
        a=tenant.account_id,
        m=sale_ms_id,
    )
    return {row["assortment_id"]: (row["spent_points"], row["earned_points"]) for row in rows}


class TestEarning:
    def test_each_line_earns_by_its_nearest_rule(self, ruled: Tenant) -> None:
        customer = ruled.register()
        cases = {
            YOGURT: 10,  # folder rule two levels up
            MILK: 15,  # product rule beats the folder's
            MILK_1L: 15,  # a variant follows its product's rule
            CIGARETTES: 0,  # excluded from earning
            CIGARS: 20,  # product rule lifts the folder's exclusion
            SHIRT: 5,  # excluded from spending only
            BOOK: 5,  # no rule: the program
        }
        for product, points in cases.items():
            answer = ruled.recalc(payloads.recalc(customer, [payloads.position(product, 1, 100)]))
            assert answer["bonusProgram"]["bonusValueToEarn"] == points, product
        everything = ruled.recalc(
            payloads.recalc(customer, [payloads.position(product, 1, 100) for product in cases])
        )
        assert everything["bonusProgram"]["bonusValueToEarn"] == sum(cases.values())
        # Σ paid × percent is rounded once per receipt: 1.5 % of 100 ₽ twice is 3, not 1 + 1.
        two = ruled.recalc(payloads.recalc(customer, [payloads.position(UNSYNCED, 1, 100)] * 2))
        assert two["bonusProgram"]["bonusValueToEarn"] == 3

    def test_commit_earns_and_stores_each_lines_share(self, ruled: Tenant) -> None:
        customer = ruled.register()
        positions = [payloads.position(p, 1, 100) for p in (YOGURT, CIGARETTES, BOOK)]
        sale_id, answer = ruled.buy(customer, positions)
        assert answer["bonusProgram"]["bonusValueToEarn"] == 15
        assert ruled.balance(customer) == 15
        assert sale_lines(ruled, sale_id) == {YOGURT: (0, 10), CIGARETTES: (0, 0), BOOK: (0, 5)}

    def test_rules_override_the_tier(self, ruled: Tenant, operator: Operator) -> None:
        operator.client.put(
            "/program/tiers",
            json={
                "items": [
                    {"name": "Base", "thresholdMinor": 0, "earnPercent": 2, "maxSpendPercent": 10}
                ]
            },
        ).raise_for_status()
        customer = ruled.register()
        answer = ruled.recalc(
            payloads.recalc(customer, [payloads.position(p, 1, 100) for p in (YOGURT, BOOK)])
        )
        assert answer["bonusProgram"]["bonusValueToEarn"] == 10 + 2


class TestSpending:
    def test_points_pay_only_for_lines_they_may_pay_for(self, ruled: Tenant) -> None:
        customer = ruled.register()
        ruled.buy(customer, [payloads.position(BOOK, 1, 4000)])
        assert ruled.balance(customer) == 200
        positions = [payloads.position(p, 1, 100) for p in (YOGURT, CIGARETTES, SHIRT, BOOK)]
        answer = ruled.recalc(payloads.recalc(customer, positions, spending=True))
        bonus = answer["bonusProgram"]
        # Half (the program's cap) of the 200 ₽ points may pay for; tobacco and clearance pay
        # in full.
        assert bonus["bonusValueToSpend"] == 100
        lines = by_product(answer)
        assert lines[CIGARETTES][0]["discountedPrice"] == 100
        assert lines[SHIRT][0]["discountedPrice"] == 100
        assert lines[YOGURT][0]["discountedPrice"] == 50 == lines[BOOK][0]["discountedPrice"]
        # Earned on what was paid with money: 10 % of 50 + 0 + 5 % of 100 + 5 % of 50 = 12.5.
        assert bonus["bonusValueToEarn"] == 12
        sale_id = payloads.new_id()
        committed = ruled.post(
            "/retaildemand", payloads.sale_from_recalc(sale_id, customer, answer)
        )
        assert committed.status_code == 201, committed.text
        assert ruled.balance(customer) == 200 - 100 + 12
        assert sale_lines(ruled, sale_id) == {
            YOGURT: (50, 5),
            CIGARETTES: (0, 0),
            SHIRT: (0, 5),
            BOOK: (50, 2),
        }
        # A return gives back and takes back exactly what its lines spent and earned.
        yogurt_back = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(YOGURT, 1, 100, discounted_price=50)]
        )
        assert ruled.post("/retailsalesreturn", yogurt_back).status_code == 201
        assert ruled.balance(customer) == 112 + 50 - 5
        cigarettes_back = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(CIGARETTES, 1, 100)]
        )
        assert ruled.post("/retailsalesreturn", cigarettes_back).status_code == 201
        assert ruled.balance(customer) == 157
        shirt_back = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(SHIRT, 1, 100)]
        )
        assert ruled.post("/retailsalesreturn", shirt_back).status_code == 201
        assert ruled.balance(customer) == 152

    def test_commit_refuses_points_on_excluded_lines(self, ruled: Tenant) -> None:
        customer = ruled.register()
        ruled.buy(customer, [payloads.position(BOOK, 1, 1000)])
        body = payloads.sale(
            payloads.new_id(),
            customer,
            [payloads.position(CIGARETTES, 1, 100, discounted_price=90)],
            spend=10,
        )
        refused = ruled.post("/retaildemand", body)
        assert refused.status_code == 412
        error = refused.json()["errors"][0]
        assert error["code"] == 41202 and "не больше 0" in error["error_message"]
        assert ruled.balance(customer) == 50

    def test_an_unlinked_return_takes_back_what_the_lines_would_earn(self, ruled: Tenant) -> None:
        customer = ruled.register()
        ruled.buy(customer, [payloads.position(BOOK, 1, 1000)])
        body = payloads.sales_return(
            payloads.new_id(),
            None,
            [payloads.position(YOGURT, 1, 100), payloads.position(CIGARETTES, 1, 100)],
            ms_id=customer,
        )
        assert ruled.post("/retailsalesreturn", body).status_code == 201
        assert ruled.balance(customer) == 50 - 10


class TestOperatorApi:
    def test_put_get_roles_and_audit(self, tenant: Tenant, operator: Operator) -> None:
        assert operator.ok(operator.get("/program/category-rules")) == {"items": []}
        saved = operator.ok(put(operator, {"items": RULES}))["items"]
        assert {"target": "product", "id": UNSYNCED, "earnPercent": 1.5} | {
            "noEarn": False,
            "noSpend": False,
        } in saved
        assert len(saved) == len(RULES)
        reader = operator_client(tenant, Role.read_only)
        assert reader.ok(reader.get("/program/category-rules"))["items"] == saved
        assert put(reader, {"items": []}).status_code == 403
        assert put(operator_client(tenant, Role.operator), {"items": []}).status_code == 403
        operator.ok(put(operator, {"items": RULES}))  # unchanged: not audited again
        operator.ok(put(operator, {"items": RULES[:1]}))
        rows = operator.ok(
            operator.get("/audit", params={"entityType": "program", "entityId": "category-rules"})
        )["items"]
        assert [row["action"] for row in rows] == ["program.category_rules.update"] * 2
        assert rows[1]["before"] == {"items": []}
        assert len(rows[1]["after"]["items"]) == len(RULES)
        assert rows[0]["before"] == rows[1]["after"]
        assert rows[0]["after"] == {
            "items": [
                {
                    "target": "folder",
                    "id": FOOD,
                    "earnPercent": "10",
                    "noEarn": False,
                    "noSpend": False,
                }
            ]
        }

    @pytest.mark.parametrize(
        ("item", "parameter", "words"),
        [
            ({"target": "folder", "id": FOOD, "earnPercent": 101}, "items[0].earnPercent", "100"),
            ({"target": "folder", "id": FOOD, "earnPercent": -1}, "items[0].earnPercent", "100"),
            (
                {"target": "folder", "id": FOOD, "earnPercent": 0.001},
                "items[0].earnPercent",
                "двух знаков",
            ),
            (
                {"target": "folder", "id": FOOD, "earnPercent": 5, "noEarn": True},
                "items[0].earnPercent",
                "noEarn",
            ),
            ({"target": "folder", "id": FOOD}, "items[0]", "earnPercent, noEarn или noSpend"),
            ({"target": "folder", "id": " ", "noSpend": True}, "items[0].id", "идентификатор"),
        ],
    )
    def test_validation_names_the_field(
        self, operator: Operator, item: dict[str, Any], parameter: str, words: str
    ) -> None:
        response = put(operator, {"items": [item]})
        assert response.status_code == 412, response.text
        body = response.json()
        assert body["parameter"] == parameter and words in body["detail"], body
        assert operator.ok(operator.get("/program/category-rules")) == {"items": []}

    def test_duplicates_and_unknown_targets_are_refused(self, operator: Operator) -> None:
        rule = {"target": "product", "id": BOOK, "noSpend": True}
        duplicate = put(operator, {"items": [rule, rule | {"noEarn": True}]})
        assert duplicate.status_code == 412 and duplicate.json()["parameter"] == "items[1].id"
        unknown = put(operator, {"items": [rule | {"target": "brand"}]})
        assert unknown.status_code in (400, 412, 422)
        assert unknown.json()["parameter"] == "items[0].target"
        assert operator.ok(operator.get("/program/category-rules")) == {"items": []}

    def test_hostile_bodies_are_refused_never_a_server_error(self, operator: Operator) -> None:
        rule = {"target": "product", "id": BOOK, "noSpend": True}
        for body in (
            {"items": [rule | {"id": "a\u0000b"}]},
            {"items": [rule | {"id": "x" * 300}]},
            {"items": [rule | {"earnPercent": 1e300}]},
            {"items": [rule | {"noSpend": "maybe"}]},
            {"items": [rule | {"extra": 1}]},
            {"items": None},
        ):
            response = put(operator, body)
            assert 400 <= response.status_code < 500, (body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        assert operator.ok(operator.get("/program/category-rules")) == {"items": []}


class TestWithVouchers:
    def test_a_personal_voucher_and_points_skip_excluded_lines_and_commit(
        self, ruled: Tenant, operator: Operator
    ) -> None:
        customer = ruled.register()
        ruled.buy(customer, [payloads.position(BOOK, 1, 4000)])  # 200 points
        operator.personal(customer)  # 10 % off the receipt
        positions = [payloads.position(p, 1, 100) for p in (YOGURT, CIGARETTES, BOOK)]
        answer = ruled.recalc(payloads.recalc(customer, positions, spending=True))
        bonus = answer["bonusProgram"]
        # Voucher: 10 % of 300 ₽ = 30 ₽; points: half of what is left of the 200 ₽ they may
        # pay for, (200 − 30) / 2 = 85.
        assert bonus["bonusValueToSpend"] == 85
        lines = by_product(answer)
        assert lines[CIGARETTES][0]["discountedPrice"] == 100
        paid = sum(
            Decimal(str(item["discountedPrice"])) * Decimal(str(item["quantity"]))
            for item in answer["positions"]
        )
        assert paid == Decimal(300 - 30 - 85)
        sale_id = payloads.new_id()
        committed = ruled.post(
            "/retaildemand", payloads.sale_from_recalc(sale_id, customer, answer)
        )
        assert committed.status_code == 201, committed.text
        spent = {product: share[0] for product, share in sale_lines(ruled, sale_id).items()}
        assert spent[CIGARETTES] == 0 and sum(spent.values()) == 85
        assert ruled.balance(customer) == 200 - 85 + bonus["bonusValueToEarn"]
