"""What the benchmark sends: LoyaltyAPI calls shaped like a MoySklad till's.

A sale is recalc then commit with the recalc's answer, as the till does. The mixed workload
follows the guide (per 100 sales: 10 balance look-ups, 5 searches, 3 returns, 1 spending code,
2 duplicate commits); receipts have 1, 10 or 100 positions with fractional quantities and serial
numbers.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from bench.loadgen import Connection, Flow, Request

TOKEN_HEADER = "Lognex-Discount-API-Auth-Token"
API = "https://api.moysklad.ru/api/remap/1.2/entity"
STORE_ID = "2b5eb22f-139e-11e6-9464-e4de00000073"
STORE = {"meta": {"href": f"{API}/retailstore/{STORE_ID}", "id": STORE_ID}, "name": "Магазин №1"}
PRICES = [19.9, 49.99, 89.5, 120.0, 249.0, 399.99, 1290.0]


def receipt(size: int, rng: random.Random) -> list[dict[str, Any]]:
    positions = []
    for index in range(size):
        product = str(uuid.UUID(int=rng.getrandbits(128)))
        item: dict[str, Any] = {
            "assortment": {"meta": {"href": f"{API}/product/{product}", "id": product}},
            "price": rng.choice(PRICES),
        }
        if index % 3 == 1:  # weighed goods
            item["quantity"] = round(rng.uniform(0.1, 3.0), 3)
        elif index % 3 == 2:  # serialised goods
            count = rng.randint(1, 3)
            item["quantity"] = count
            item["sn"] = [{"name": f"SN{rng.getrandbits(40):010x}"} for _ in range(count)]
        else:
            item["quantity"] = rng.randint(1, 4)
        positions.append(item)
    return positions


def agent(ms_id: str) -> dict[str, Any]:
    return {"meta": {"href": f"{API}/counterparty/{ms_id}", "id": ms_id}}


def recalc_body(ms_id: str | None, positions: list[dict[str, Any]], spending: bool) -> bytes:
    body: dict[str, Any] = {
        "retailStore": STORE,
        "positions": positions,
        "bonusProgram": {"transactionType": "SPENDING" if spending else "EARNING"},
    }
    if ms_id is not None:
        body["agent"] = agent(ms_id)
    return json.dumps(body).encode()


def commit_body(sale_id: str, ms_id: str | None, answer: dict[str, Any]) -> bytes:
    bonus = answer["bonusProgram"]
    body: dict[str, Any] = {
        "retailStore": STORE,
        "name": sale_id[:8],
        "moment": "2026-11-22 12:00:00",
        "meta": {"href": f"{API}/retaildemand/{sale_id}", "id": sale_id},
        "positions": [
            {
                "assortment": {"meta": item["assortment"]["meta"]},
                "quantity": item["quantity"],
                "price": item["price"],
                "discountPercent": item["discountPercent"],
                "discountedPrice": item["discountedPrice"],
            }
            for item in answer["positions"]
        ],
        "bonusProgram": {
            "bonusValueToSpend": bonus["bonusValueToSpend"],
            "bonusValueToEarn": bonus["bonusValueToEarn"],
        },
    }
    if ms_id is not None:
        body["agent"] = agent(ms_id)
    return json.dumps(body).encode()


class Workload:
    """Customers picked with Zipf weights; every flow records its outcome as 'ok' or a reason."""

    def __init__(self, customer_ids: list[str], weights: list[float], seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.customer_ids = customer_ids
        self.cumulative = list(itertools.accumulate(weights))
        self.committed: list[tuple[bytes, str]] = []  # (body, customer) of recent sales
        self.recalc_bodies: dict[int, list[bytes]] = {}
        self.commit_positions: dict[int, list[dict[str, Any]]] = {}

    def customer(self) -> str:
        return self.rng.choices(self.customer_ids, cum_weights=self.cumulative, k=1)[0]

    def prepared_recalcs(self, size: int, count: int = 256) -> list[bytes]:
        if size not in self.recalc_bodies:
            self.recalc_bodies[size] = [
                recalc_body(self.customer(), receipt(size, self.rng), spending=bool(index % 2))
                for index in range(count)
            ]
        return self.recalc_bodies[size]

    # -- single operations -------------------------------------------------------------------
    def recalc_only(self, size: int) -> Callable[[int], tuple[str, Flow]]:
        bodies = self.prepared_recalcs(size)

        def flows(index: int) -> tuple[str, Flow]:
            body = bodies[index % len(bodies)]

            async def flow(connection: Connection) -> str:
                response = await connection.send(
                    Request("POST", "/loyalty/retaildemand/recalc", body)
                )
                return "ok" if response.status == 200 else f"status {response.status}"

            return "recalc", flow

        return flows

    def earning_commit(self, size: int) -> tuple[bytes, str, str]:
        """(body, customer, sale id) of an earning commit; the positions repeat per size."""
        customer = self.customer()
        positions = self.commit_positions.setdefault(size, receipt(size, self.rng))
        priced = {
            "positions": [
                dict(item, discountPercent=0, discountedPrice=item["price"]) for item in positions
            ],
            "bonusProgram": {"bonusValueToSpend": 0, "bonusValueToEarn": 0},
        }
        sale_id = str(uuid.UUID(int=self.rng.getrandbits(128)))
        return commit_body(sale_id, customer, priced), customer, sale_id

    def commit_only(self, size: int) -> Callable[[int], tuple[str, Flow]]:
        """Earning commits (no recalc): the write path alone."""

        def flows(index: int) -> tuple[str, Flow]:
            body, _, _ = self.earning_commit(size)

            async def flow(connection: Connection) -> str:
                response = await connection.send(Request("POST", "/loyalty/retaildemand", body))
                return "ok" if response.status == 201 else f"status {response.status}"

            return "commit", flow

        return flows

    # -- the full sale and the mix ---------------------------------------------------------------
    def sale_flow(self, size: int, *, spending_share: float = 0.3) -> Flow:
        customer = self.customer()
        spending = self.rng.random() < spending_share
        body = recalc_body(customer, receipt(size, self.rng), spending)
        sale_id = str(uuid.UUID(int=self.rng.getrandbits(128)))

        async def flow(connection: Connection) -> str:
            status, answer = await connection.json(
                Request("POST", "/loyalty/retaildemand/recalc", body)
            )
            if status != 200:
                return f"recalc {status}"
            commit = commit_body(sale_id, customer, answer)
            response = await connection.send(Request("POST", "/loyalty/retaildemand", commit))
            if response.status != 201:
                return f"commit {response.status}"
            self.committed.append((commit, customer))
            if len(self.committed) > 500:
                del self.committed[:250]
            return "ok"

        return flow

    def mixed(self, size: int = 10) -> Callable[[int], tuple[str, Flow]]:
        """Per 100 sales: 10 balances, 5 searches, 3 returns, 1 code, 2 duplicate commits."""
        plan = (
            ["sale"] * 100
            + ["balance"] * 10
            + ["search"] * 5
            + ["return"] * 3
            + ["code"]
            + ["duplicate"] * 2
        )
        self.rng.shuffle(plan)

        def flows(index: int) -> tuple[str, Flow]:
            kind = plan[index % len(plan)]
            if kind == "sale" or (kind in ("return", "duplicate") and not self.committed):
                return "sale", self.sale_flow(size)
            if kind == "balance":
                body = json.dumps(
                    {"retailStore": STORE, "meta": agent(self.customer())["meta"]}
                ).encode()
                return "balance", _expect(
                    Request("POST", "/loyalty/counterparty/detail", body), 200
                )
            if kind == "search":
                text = self.rng.choice(
                    ["Покупатель 1", "CARD0000012", f"+7900{self.rng.randint(0, 99999):07d}"]
                )
                path = "/loyalty/counterparty?retailStoreId=" + STORE_ID + "&search=" + _quote(text)
                return "search", _expect(Request("GET", path), 200)
            if kind == "code":
                body = json.dumps(
                    {
                        "retailStore": STORE,
                        "counterpartyId": self.customer(),
                        "phone": f"+7901{self.rng.getrandbits(30) % 10**7:07d}",
                    }
                ).encode()
                return "code", _expect(Request("POST", "/loyalty/retaildemand/verify", body), 200)
            commit, _customer = self.rng.choice(self.committed)
            if kind == "duplicate":
                return "duplicate", _expect(Request("POST", "/loyalty/retaildemand", commit), 201)
            return "return", _expect(
                Request("POST", "/loyalty/retailsalesreturn", _return_of(commit, self.rng)), 201
            )

        return flows

    def hot_customer_spend(
        self, customer: str, points: int = 1
    ) -> Callable[[int], tuple[str, Flow]]:
        """Many tills spending from one customer's balance at once (1 point each)."""

        def flows(index: int) -> tuple[str, Flow]:
            sale_id = str(uuid.UUID(int=self.rng.getrandbits(128)))
            body = json.dumps(
                {
                    "retailStore": STORE,
                    "meta": {"href": "", "id": sale_id},
                    "agent": agent(customer),
                    "positions": [
                        {
                            "assortment": {"meta": {"id": "hot"}},
                            "quantity": 1,
                            "price": 100,
                            "discountedPrice": 100 - points,
                        }
                    ],
                    "bonusProgram": {"bonusValueToSpend": points, "bonusValueToEarn": 0},
                }
            ).encode()
            return "hot_spend", _expect(Request("POST", "/loyalty/retaildemand", body), 201)

        return flows


def _expect(request: Request, status: int) -> Flow:
    async def flow(connection: Connection) -> str:
        response = await connection.send(request)
        return "ok" if response.status == status else f"status {response.status}"

    return flow


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


def _return_of(commit: bytes, rng: random.Random) -> bytes:
    sale = json.loads(commit)
    linked = rng.random() < 2 / 3
    item = sale["positions"][0]
    body = {
        "retailStore": STORE,
        "name": "R" + sale["name"],
        "moment": "2026-11-22 13:00:00",
        "meta": {"href": "", "id": str(uuid.UUID(int=rng.getrandbits(128)))},
        "demand": {"meta": sale["meta"] if linked else {"href": "", "id": ""}},
        "agent": {"meta": sale["agent"]["meta"]} if "agent" in sale else {},
        "positions": [dict(item, quantity=item["quantity"])],
    }
    return json.dumps(body).encode()
