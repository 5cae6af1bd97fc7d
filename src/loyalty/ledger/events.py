"""Webhook events of a ledger transaction, derived from its entries. Pure; no I/O."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from loyalty.ledger.schemas import Bucket, Entry, TransactionKind


def ledger_events(
    kind: TransactionKind,
    entries: list[Entry],
    *,
    transaction_id: int,
    customer_id: uuid.UUID,
) -> list[tuple[str, dict[str, Any]]]:
    """(event type, payload) pairs. System buckets tell what happened: points leaving `issued`
    (or `adjustment`) were earned, points entering `redeemed` (or `adjustment`) were spent,
    points entering `expired` expired; a return is one `points.reversed`."""
    system: dict[Bucket, int] = defaultdict(int)
    for entry in entries:
        if entry.customer_id is None:
            system[entry.bucket] += entry.amount_points
    base: dict[str, Any] = {
        "customerId": str(customer_id),
        "transactionId": transaction_id,
        "transactionKind": kind.value,
    }
    if kind is TransactionKind.activation:
        return []
    if kind is TransactionKind.expiry:
        expired = system[Bucket.expired]
        return [("points.expired", base | {"points": expired})] if expired > 0 else []
    if kind is TransactionKind.sales_return:
        refunded = max(-system[Bucket.redeemed], 0)
        reclaimed = max(system[Bucket.issued], 0)
        if not refunded and not reclaimed:
            return []
        return [
            (
                "points.reversed",
                base | {"refundedPoints": refunded, "reclaimedPoints": reclaimed},
            )
        ]
    events: list[tuple[str, dict[str, Any]]] = []
    spent = max(system[Bucket.redeemed], 0) + max(system[Bucket.adjustment], 0)
    earned = max(-system[Bucket.issued], 0) + max(-system[Bucket.adjustment], 0)
    if spent:
        events.append(("points.spent", base | {"points": spent}))
    if earned:
        events.append(("points.earned", base | {"points": earned}))
    return events


def transfer_event(
    source: dict[str, str | None],
    recipient: dict[str, str | None],
    *,
    transaction_id: int,
    points: int,
) -> dict[str, Any]:
    """`points.transferred`: the customer fields name the source, as the customer who loses
    points in `points.spent`; `recipient…` the customer who received them."""
    return source | {
        "recipientCustomerId": recipient["customerId"],
        "recipientCustomerMoyskladId": recipient["customerMoyskladId"],
        "transactionId": transaction_id,
        "transactionKind": TransactionKind.transfer.value,
        "points": points,
    }


def merge_event(
    survivor: dict[str, str | None],
    duplicate: dict[str, str | None],
    *,
    transaction_id: int | None,
    moved_available_points: int,
    moved_pending_points: int,
    moved_debt_points: int,
    moved_vouchers: int,
) -> dict[str, Any]:
    """`customer.merged`: the customer fields name the survivor; `transactionId` is null when
    the duplicate held no points or debt."""
    return survivor | {
        "duplicateCustomerId": duplicate["customerId"],
        "duplicateCustomerMoyskladId": duplicate["customerMoyskladId"],
        "transactionId": transaction_id,
        "transactionKind": TransactionKind.merge.value,
        "availablePoints": moved_available_points,
        "pendingPoints": moved_pending_points,
        "debtPoints": moved_debt_points,
        "vouchers": moved_vouchers,
    }
