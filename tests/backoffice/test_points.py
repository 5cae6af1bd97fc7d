"""Points in the back office: ledger history, manual adjustments, transfers."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.backoffice.conftest import BackOffice, problem
from tests.conftest import Tenant, assert_ledger_consistent
from tests.support import payloads
from tests.support.statements import sent_statements

LOTS = 40  # more than ledger.repository.LOTS_PER_READ (16)


class TestLedger:
    def test_history_pages_newest_first_without_gaps(self, office: BackOffice) -> None:
        customer = office.customer()
        for points in (10, 20, 30, -5, 40):
            office.ok(office.adjust(customer, points, reason=f"Причина {points}"))
        seen: list[int] = []
        cursor = None
        while True:
            params = {"count": 2} | ({"before": cursor} if cursor else {})
            page = office.ok(office.client.get(f"/customers/{customer}/ledger", params=params))
            seen += [line["amountPoints"] for line in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert seen == [40, -5, 30, 20, 10]
        [first] = office.ok(
            office.client.get(f"/customers/{customer}/ledger", params={"count": 1})
        )["items"]
        assert first["kind"] == "adjustment"
        assert first["reason"] == "Причина 40"
        assert first["actor"].startswith("operator-key:")
        assert first["balanceAfterPoints"] == 95


class TestAdjustments:
    def test_credit_and_debit_with_a_reason_are_audited(self, office: BackOffice) -> None:
        customer = office.customer()
        credited = office.ok(office.adjust(customer, 100))
        assert credited["balance"]["availablePoints"] == 100
        assert credited["replayed"] is False and credited["transactionId"] > 0
        debited = office.ok(office.adjust(customer, -30))
        assert debited["balance"]["availablePoints"] == 70
        records = [item for item in office.audit(customer) if item["action"] == "points.adjust"]
        assert [record["after"]["points"] for record in records] == [-30, 100]
        assert records[0]["before"]["availablePoints"] == 100
        assert records[0]["after"]["availablePoints"] == 70

    def test_a_replay_applies_once_and_a_reused_key_with_other_points_is_409(
        self, office: BackOffice
    ) -> None:
        customer = office.customer()
        first = office.ok(office.adjust(customer, 100, key="adj-1"))
        again = office.ok(office.adjust(customer, 100, key="adj-1"))
        assert again["replayed"] is True
        assert again["transactionId"] == first["transactionId"]
        assert office.balance(customer)["availablePoints"] == 100
        problem(office.adjust(customer, 90, key="adj-1"), 409)
        assert len([i for i in office.audit(customer) if i["action"] == "points.adjust"]) == 1

    def test_concurrent_copies_of_one_request_credit_once(self, office: BackOffice) -> None:
        customer = office.customer()
        headers = dict(office.client.headers) | {"Idempotency-Key": "same-key"}
        base = str(office.client.base_url)

        def send(_: int) -> tuple[int, bool]:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                response = client.post(
                    f"/customers/{customer}/adjustments", json={"points": 40, "reason": "Дубль"}
                )
            return response.status_code, response.json().get("replayed", False)

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(send, range(6)))
        assert {status for status, _ in answers} == {200}, answers
        assert [replayed for _, replayed in answers].count(False) == 1
        assert office.balance(customer)["availablePoints"] == 40

    def test_debit_never_goes_below_zero(self, office: BackOffice) -> None:
        customer = office.customer()
        office.ok(office.adjust(customer, 50))
        answer = problem(office.adjust(customer, -51), 409, 40982)
        assert answer["parameter"] == "points"
        assert "50" in answer["detail"]
        assert office.balance(customer)["availablePoints"] == 50

    def test_bad_requests_are_clear(self, office: BackOffice) -> None:
        customer = office.customer()
        url = f"/customers/{customer}/adjustments"
        missing_key = office.client.post(url, json={"points": 10, "reason": "x"})
        assert problem(missing_key, 412)["parameter"] == "Idempotency-Key"
        headers = {"Idempotency-Key": "k"}
        zero = office.client.post(url, json={"points": 0, "reason": "x"}, headers=headers)
        assert problem(zero, 412)["parameter"] == "points"
        for body in ({"points": 5}, {"points": 5, "reason": "   "}):
            no_reason = office.client.post(url, json=body, headers=headers)
            assert problem(no_reason, 412)["parameter"] == "reason"
        fractional = office.client.post(url, json={"points": 1.5, "reason": "x"}, headers=headers)
        assert problem(fractional, 412)["parameter"] == "points"


class TestTransfers:
    def test_points_move_atomically_and_keep_their_expiry(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        tenant.set_program(expiry_days=30)
        source, target = office.customer(), office.customer()
        office.ok(office.adjust(source, 100))
        moved = office.ok(office.transfer(source, target, 60))
        assert moved["fromBalance"]["availablePoints"] == 40
        assert moved["toBalance"]["availablePoints"] == 60
        expiries = tenant.db.fetch(
            "SELECT DISTINCT expires_at FROM points_lot WHERE account_id = :account",
            account=tenant.account_id,
        )
        assert len(expiries) == 1  # the moved points expire when the originals would have
        actions = {item["action"] for item in office.audit(source) + office.audit(target)}
        assert {"points.transfer_out", "points.transfer_in"} <= actions

    def test_a_transfer_reads_only_the_lots_it_moves(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        source, target = office.customer(), office.customer()
        for _ in range(LOTS):
            office.ok(office.adjust(source, 5))
        with sent_statements() as sent:
            moved = office.ok(office.transfer(source, target, 150))  # 30 lots, past one page
        assert moved["fromBalance"]["availablePoints"] == 5 * LOTS - 150
        assert moved["toBalance"]["availablePoints"] == 150
        lot_reads = [sql for sql in sent if "FROM points_lot" in sql and "SELECT" in sql]
        assert lot_reads and all("LIMIT" in sql for sql in lot_reads), lot_reads
        remaining = tenant.db.fetch(
            "SELECT remaining_points FROM points_lot WHERE account_id = :account"
            " AND customer_id = :customer ORDER BY id",
            account=tenant.account_id,
            customer=uuid.UUID(source),
        )
        # Drawn in spend order: the oldest 30 lots are empty, the newest 10 untouched.
        assert [row["remaining_points"] for row in remaining] == [0] * 30 + [5] * (LOTS - 30)

    def test_replay_is_applied_once_and_overdraft_is_409(self, office: BackOffice) -> None:
        source, target = office.customer(), office.customer()
        office.ok(office.adjust(source, 100))
        first = office.ok(office.transfer(source, target, 70, key="t-1"))
        again = office.ok(office.transfer(source, target, 70, key="t-1"))
        assert again["replayed"] is True and again["transactionId"] == first["transactionId"]
        assert office.balance(source)["availablePoints"] == 30
        assert office.balance(target)["availablePoints"] == 70
        problem(office.transfer(source, target, 71, key="t-1"), 409)
        problem(office.transfer(source, target, 31), 409, 40982)
        problem(office.transfer(source, source, 1), 412)

    def test_a_transfer_repays_the_receivers_debt_first(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        source, target = office.customer(), office.customer()
        office.ok(office.adjust(source, 100))
        # The receiver owes points: it spent what a sale earned, then the sale was returned.
        ms_id = office.ms_id(target)
        sale_id, _ = tenant.buy(ms_id, [payloads.position(quantity=1, price=1000)])
        earned = office.balance(target)["availablePoints"]
        office.ok(office.adjust(target, -earned))
        returned = tenant.post(
            "/retailsalesreturn",
            payloads.sales_return(
                payloads.new_id(), sale_id, [payloads.position(quantity=1, price=1000)], ms_id=ms_id
            ),
        )
        assert returned.status_code == 201, returned.text
        moved = office.ok(office.transfer(source, target, 100))
        assert moved["toBalance"] == {
            "availablePoints": 100 - earned,
            "pendingPoints": 0,
            "debtPoints": 0,
        }
        assert_ledger_consistent(tenant.db, tenant.account_id)

    def test_concurrent_transfers_never_overdraw_nor_deadlock(
        self, tenant: Tenant, office: BackOffice
    ) -> None:
        first, second = office.customer(), office.customer()
        office.ok(office.adjust(first, 100))
        office.ok(office.adjust(second, 100))
        headers = dict(office.client.headers)
        base = str(office.client.base_url)

        def send(index: int) -> int:
            # Opposite directions in turn: locks taken in one order keep them from deadlocking.
            source, target = (first, second) if index % 2 == 0 else (second, first)
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                response = client.post(
                    "/transfers",
                    json={
                        "fromCustomerId": source,
                        "toCustomerId": target,
                        "points": 30,
                        "reason": "Гонка",
                    },
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
            return response.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(send, range(24)))
        assert set(statuses) <= {200, 409}, statuses
        assert statuses.count(200) >= 2
        balances = [office.balance(first), office.balance(second)]
        assert sum(balance["availablePoints"] for balance in balances) == 200
        assert all(balance["availablePoints"] >= 0 for balance in balances)
        assert_ledger_consistent(tenant.db, tenant.account_id)

    def test_concurrent_debits_of_one_customer_never_overdraw(self, office: BackOffice) -> None:
        source = office.customer()
        targets = [office.customer() for _ in range(3)]
        office.ok(office.adjust(source, 100))
        headers = dict(office.client.headers)
        base = str(office.client.base_url)

        def send(index: int) -> int:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                response = client.post(
                    "/transfers",
                    json={
                        "fromCustomerId": source,
                        "toCustomerId": targets[index % 3],
                        "points": 30,
                        "reason": "Гонка",
                    },
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
            return response.status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(send, range(12)))
        assert statuses.count(200) == 3, statuses
        assert statuses.count(409) == 9
        assert office.balance(source)["availablePoints"] == 10
        received = sum(office.balance(target)["availablePoints"] for target in targets)
        assert received == 90
