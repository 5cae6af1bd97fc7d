"""A commit's statements: the customer is read with the sale's claim, and the lines and the
sale's outcome ride in the ledger's posting, so the customer's balance lock is held for one
statement after it is taken."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.ledger import repository as ledger_repository
from loyalty.ledger.schemas import DocumentWrite, TransactionHeader, TransactionKind
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.locks import HeldRowLock
from tests.support.statements import sent_statements

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"


def _stored_sale(tenant: Tenant, sale_ms_id: str) -> dict[str, object]:
    [row] = tenant.db.fetch(
        "SELECT s.customer_id, s.spent_points, s.earned_points, s.ledger_transaction_id,"
        " t.document_id = s.id AS posting_names_the_sale,"
        " (SELECT array_agg(l.earned_points ORDER BY l.line_no) FROM sale_line l"
        "   WHERE l.account_id = s.account_id AND l.sale_id = s.id) AS earned_per_line,"
        " (SELECT array_agg(l.spent_points ORDER BY l.line_no) FROM sale_line l"
        "   WHERE l.account_id = s.account_id AND l.sale_id = s.id) AS spent_per_line"
        " FROM sale s LEFT JOIN ledger_transaction t"
        "   ON t.account_id = s.account_id AND t.id = s.ledger_transaction_id"
        " WHERE s.account_id = :account AND s.moysklad_id = :sale",
        account=tenant.account_id,
        sale=sale_ms_id,
    )
    return row


def test_an_earning_sale_posts_its_lines_with_the_ledger(tenant: Tenant) -> None:
    customer = tenant.register()
    tenant.buy(customer, [payloads.position(PRODUCT, 1, 500)])  # warm the statement caches
    sale_id = payloads.new_id()
    body = payloads.sale(
        sale_id,
        customer,
        [payloads.position(PRODUCT, 2, 1000), payloads.position(payloads.new_id(), 1, 500)],
    )
    with sent_statements() as sent:
        assert tenant.post("/retaildemand", body).status_code == 201
    till_sql = [sql for sql in sent if "moysklad_task" not in sql]
    # The claim with the customer, the balance lock, and the posting with the lines.
    assert len(till_sql) == 3, till_sql
    assert "INSERT INTO sale " in till_sql[0] and "FOR SHARE OF customer" in till_sql[0]
    assert "INSERT INTO sale_line" in till_sql[-1] and "ledger_transaction" in till_sql[-1]
    stored = _stored_sale(tenant, sale_id)
    assert stored["posting_names_the_sale"] is True
    assert stored["earned_points"] == sum(stored["earned_per_line"])  # type: ignore[arg-type]
    assert stored["earned_points"] > 0  # type: ignore[operator]
    assert stored["spent_per_line"] == [0, 0]


def test_a_spending_sale_records_its_split_in_the_same_statement(tenant: Tenant) -> None:
    tenant.set_program(welcome_bonus_points=100)
    customer = tenant.register()
    sale_id = payloads.new_id()
    body = payloads.sale(
        sale_id,
        customer,
        [
            payloads.position(PRODUCT, 1, 1000, discounted_price=970),
            payloads.position(payloads.new_id(), 1, 1000, discounted_price=990),
        ],
        spend=40,
    )
    assert tenant.post("/retaildemand", body).status_code == 201
    stored = _stored_sale(tenant, sale_id)
    assert stored["spent_points"] == 40
    assert sum(stored["spent_per_line"]) == 40  # type: ignore[arg-type]
    assert stored["posting_names_the_sale"] is True
    assert tenant.balance(customer) == 60 + stored["earned_points"]  # type: ignore[operator]


def test_a_sale_with_nothing_to_post_still_records_its_lines(tenant: Tenant) -> None:
    tenant.set_program(earn_percent=0)
    customer = tenant.register()
    sale_id = payloads.new_id()
    body = payloads.sale(sale_id, customer, [payloads.position(PRODUCT, 1, 1000)])
    assert tenant.post("/retaildemand", body).status_code == 201
    stored = _stored_sale(tenant, sale_id)
    assert stored["ledger_transaction_id"] is None
    assert stored["customer_id"] is not None
    assert stored["earned_per_line"] == [0]


def test_a_document_write_may_not_borrow_the_postings_parameters(tenant: Tenant) -> None:
    header = TransactionHeader(
        account_id=tenant.account_id,
        kind=TransactionKind.adjustment,
        idempotency_key=f"test:{uuid.uuid4()}",
        customer_id=None,
        effective_at=datetime.now(UTC),
    )
    borrowing = DocumentWrite("x AS (SELECT 1)", {"kind": "sale", "account_id": tenant.account_id})

    async def post(session: AsyncSession) -> None:
        await ledger_repository.post_transaction(
            session,
            header,
            [],
            draws=[],
            lot_points=0,
            lot_state="active",
            terms=None,
            document=borrowing,
        )

    with pytest.raises(ValueError, match="kind"):
        tenant.db.run(post)


def test_a_sale_naming_the_customer_by_our_id_finds_them_with_the_claim(tenant: Tenant) -> None:
    tenant.set_program(auto_enroll=False)  # found, or the sale would go without points
    customer = tenant.register()
    [row] = tenant.db.fetch(
        "SELECT id FROM customer WHERE account_id = :account AND moysklad_id = :customer",
        account=tenant.account_id,
        customer=customer,
    )
    sale_id = payloads.new_id()
    body = payloads.sale(sale_id, str(row["id"]), [payloads.position(PRODUCT, 1, 1000)])
    with sent_statements() as sent:
        assert tenant.post("/retaildemand", body).status_code == 201
    assert any("INSERT INTO sale " in sql and "FOR SHARE OF customer" in sql for sql in sent)
    stored = _stored_sale(tenant, sale_id)
    assert stored["customer_id"] == row["id"]
    assert tenant.balance(customer) == stored["earned_points"] > 0  # type: ignore[operator]


def test_a_replayed_sale_reads_and_locks_no_customer(tenant: Tenant) -> None:
    customer = tenant.register()
    body = payloads.sale(payloads.new_id(), customer, [payloads.position(PRODUCT, 1, 1000)])
    assert tenant.post("/retaildemand", body).status_code == 201
    # Another transaction (a block or a merge in progress) holds the customer's row.
    held = HeldRowLock(
        tenant.db.url, "SELECT 1 FROM customer WHERE moysklad_id = $1 FOR UPDATE", customer
    )
    try:
        started = time.monotonic()
        again = tenant.post("/retaildemand", body)
        seconds = time.monotonic() - started
        # A new sale of the same customer waits for the lock, as it must.
        other = tenant.post(
            "/retaildemand",
            payloads.sale(payloads.new_id(), customer, [payloads.position(PRODUCT, 1, 1000)]),
        )
    finally:
        held.release()
    assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
    assert seconds < 0.9  # the lock wait alone would take a second (lock_timeout)
    assert other.status_code == 503
