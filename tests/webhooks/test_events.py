"""Which events a ledger transaction makes, and how retries back off. Pure functions."""

from __future__ import annotations

import uuid

import pytest

from loyalty.ledger.events import ledger_events
from loyalty.ledger.schemas import Bucket, Entry, TransactionKind
from loyalty.webhooks.delivery import retry_delay_seconds

CUSTOMER = uuid.uuid4()


def events(kind: TransactionKind, *entries: tuple[Bucket, int]) -> list[tuple[str, object]]:
    customer_buckets = (Bucket.available, Bucket.pending, Bucket.debt)
    rows = [
        Entry(bucket, amount, CUSTOMER if bucket in customer_buckets else None)
        for bucket, amount in entries
    ]
    found = ledger_events(kind, rows, transaction_id=7, customer_id=CUSTOMER)
    return [(name, payload.get("points")) for name, payload in found]


def test_a_sale_that_spends_and_earns_is_two_events() -> None:
    assert events(
        TransactionKind.sale,
        (Bucket.available, 30),
        (Bucket.issued, -30),
        (Bucket.redeemed, 50),
        (Bucket.available, -50),
    ) == [("points.spent", 50), ("points.earned", 30)]


@pytest.mark.parametrize(
    ("kind", "entries", "expected"),
    [
        (TransactionKind.expiry, [(Bucket.expired, 40), (Bucket.available, -40)], "points.expired"),
        (TransactionKind.birthday, [(Bucket.available, 5), (Bucket.issued, -5)], "points.earned"),
        (TransactionKind.welcome, [(Bucket.debt, 5), (Bucket.issued, -5)], "points.earned"),
        (
            TransactionKind.adjustment,
            [(Bucket.adjustment, 9), (Bucket.available, -9)],
            "points.spent",
        ),
        (
            TransactionKind.adjustment,
            [(Bucket.available, 9), (Bucket.adjustment, -9)],
            "points.earned",
        ),
    ],
)
def test_single_event_kinds(
    kind: TransactionKind, entries: list[tuple[Bucket, int]], expected: str
) -> None:
    rows = [
        Entry(bucket, amount, CUSTOMER if bucket in (Bucket.available, Bucket.debt) else None)
        for bucket, amount in entries
    ]
    [(name, payload)] = ledger_events(kind, rows, transaction_id=1, customer_id=CUSTOMER)
    assert name == expected
    assert payload["points"] == abs(entries[0][1])
    assert payload["transactionKind"] == kind.value


def test_activation_is_no_event_and_a_return_is_one_reversal() -> None:
    assert events(TransactionKind.activation, (Bucket.available, 5), (Bucket.pending, -5)) == []
    [(name, payload)] = ledger_events(
        TransactionKind.sales_return,
        [
            Entry(Bucket.available, 20, CUSTOMER),
            Entry(Bucket.redeemed, -20, None),
            Entry(Bucket.issued, 8, None),
            Entry(Bucket.available, -8, CUSTOMER),
        ],
        transaction_id=3,
        customer_id=CUSTOMER,
    )
    assert name == "points.reversed"
    assert (payload["refundedPoints"], payload["reclaimedPoints"]) == (20, 8)


def test_backoff_doubles_is_capped_and_jittered() -> None:
    assert retry_delay_seconds(1, 10, 3600, jitter=lambda: 0.0) == 5
    assert retry_delay_seconds(1, 10, 3600, jitter=lambda: 1.0) == 10
    assert retry_delay_seconds(4, 10, 3600, jitter=lambda: 1.0) == 80
    assert retry_delay_seconds(30, 10, 3600, jitter=lambda: 1.0) == 3600
    delays = {retry_delay_seconds(3, 10, 3600) for _ in range(20)}
    assert all(20 <= delay <= 40 for delay in delays) and len(delays) > 1
