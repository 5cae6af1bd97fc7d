"""Pure ledger rules: which lots pay, how a reversal is covered. No I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty.ledger.schemas import Balance, Bucket, Lot, LotDraw


def spend_order_key(lot: Lot) -> tuple[bool, datetime, datetime, int]:
    """Soonest-expiring first, non-expiring last, then oldest."""
    return (lot.expires_at is None, lot.expires_at or lot.activates_at, lot.activates_at, lot.id)


def is_spendable(lot: Lot, now: datetime) -> bool:
    return lot.state == "active" and (lot.expires_at is None or lot.expires_at > now)


def draw_from_lots(lots: list[Lot], points: int, now: datetime) -> tuple[list[LotDraw], int]:
    """Take `points` from spendable lots in spend order; return the draws and what is unpaid."""
    draws: list[LotDraw] = []
    left = points
    for lot in sorted((lot for lot in lots if is_spendable(lot, now)), key=spend_order_key):
        if left <= 0:
            break
        take = min(lot.remaining_points, left)
        if take > 0:
            draws.append(LotDraw(lot_id=lot.id, bucket=Bucket.available, points=take))
            left -= take
    return draws, left


@dataclass(frozen=True)
class Reclaim:
    draws: list[LotDraw]
    forgiven_points: int
    debt_points: int


def reclaim_from_lots(
    lots: list[Lot],
    points: int,
    preferred_lot_ids: list[int],
    forgivable_points: int,
    now: datetime,
) -> Reclaim:
    """Take back earned points, in this order:
    1. what the sale's own lots still hold (pending or active);
    2. nothing for what already expired from those lots: expiry gave it back, so it is forgiven
       (up to `forgivable_points`) rather than charged twice;
    3. other spendable points in spend order, for what the customer spent;
    4. debt for the rest, never a negative balance."""
    draws: list[LotDraw] = []
    left = points
    by_id = {lot.id: lot for lot in lots}
    for lot_id in preferred_lot_ids:
        lot = by_id.get(lot_id)
        if lot is None or lot.state == "closed" or left <= 0:
            continue
        if lot.expires_at is not None and lot.expires_at <= now:
            continue
        take = min(lot.remaining_points, left)
        if take > 0:
            bucket = Bucket.pending if lot.state == "pending" else Bucket.available
            draws.append(LotDraw(lot_id=lot.id, bucket=bucket, points=take))
            left -= take
    forgiven = min(left, max(forgivable_points, 0))
    left -= forgiven
    others = [lot for lot in lots if lot.id not in set(preferred_lot_ids)]
    more, left = draw_from_lots(others, left, now)
    return Reclaim(draws + more, forgiven, left)


def effective_balance(stored: Balance, lots: list[Lot], now: datetime) -> Balance:
    """The balance as of `now`, counting activations and expiries not yet posted."""
    available = stored.available_points
    pending = stored.pending_points
    for lot in lots:
        expired = lot.expires_at is not None and lot.expires_at <= now
        if lot.state == "pending":
            if expired:
                pending -= lot.remaining_points
            elif lot.activates_at <= now:
                pending -= lot.remaining_points
                available += lot.remaining_points
        elif lot.state == "active" and expired:
            available -= lot.remaining_points
    return Balance(
        available_points=available,
        pending_points=pending,
        debt_points=stored.debt_points,
        next_maturity_at=next_maturity(lots, now),
    )


def next_maturity(lots: list[Lot], now: datetime | None = None) -> datetime | None:
    """Earliest future activation or expiry among live lots (None when nothing will change)."""
    moments: list[datetime] = []
    for lot in lots:
        if lot.state == "closed" or lot.remaining_points <= 0:
            continue
        if lot.state == "pending":
            moments.append(lot.activates_at)
        if lot.expires_at is not None:
            moments.append(lot.expires_at)
    if now is not None:
        moments = [moment for moment in moments if moment > now]
    return min(moments, default=None)
