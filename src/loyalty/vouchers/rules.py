"""Pure voucher rules: validity, the discount a voucher gives, which one a receipt gets, and
how a commit reconciles the receipt with the voucher it re-derives. No I/O, no clock.

Amounts are integer kopecks. Percentages round down, so a voucher never gives more than its
terms say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from loyalty.vouchers.schemas import (
    ExpiryType,
    VoucherChoice,
    VoucherStatus,
    VoucherType,
    VoucherView,
)

HUNDRED = Decimal(100)


def percent_of_floor(amount_minor: int, percent: Decimal) -> int:
    if amount_minor <= 0 or percent <= 0:
        return 0
    return int((Decimal(amount_minor) * percent / HUNDRED).to_integral_value(rounding=ROUND_FLOOR))


def effective_status(voucher: VoucherView, now: datetime) -> VoucherStatus:
    """The stored status, except that an issued voucher past its expiry is EXPIRED already
    (the `expire` movement that writes off its balance may come later)."""
    if voucher.status in (VoucherStatus.issued, VoucherStatus.redeemed) and is_past_expiry(
        voucher, now
    ):
        return VoucherStatus.expired
    return voucher.status


def is_past_expiry(voucher: VoucherView, now: datetime) -> bool:
    return voucher.expires_at is not None and voucher.expires_at <= now


def is_usable(voucher: VoucherView, now: datetime) -> bool:
    """Can be redeemed right now (ignoring the receipt it would be used on)."""
    if voucher.status is not VoucherStatus.issued or is_past_expiry(voucher, now):
        return False
    if voucher.valid_from is not None and voucher.valid_from > now:
        return False
    if voucher.has_balance and voucher.balance_minor <= 0:
        return False
    return voucher.usage_limit is None or voucher.used_count < voucher.usage_limit


def expiry_for_issue(
    expiry_type: ExpiryType,
    batch_expires_at: datetime | None,
    expiry_days: int | None,
    issued_at: datetime,
) -> datetime | None:
    """FIXED: the batch's date; DYNAMIC: N days from the moment the voucher is issued."""
    if expiry_type is ExpiryType.fixed:
        return batch_expires_at
    if expiry_type is ExpiryType.dynamic and expiry_days is not None:
        return issued_at + timedelta(days=expiry_days)
    return None


def discount_minor(voucher: VoucherView, receipt_total_minor: int) -> int:
    """The discount this voucher gives on a receipt, in kopecks: 0 below the minimum spend;
    never above `max_use_percent` of the receipt, the balance, or the receipt itself."""
    if receipt_total_minor <= 0 or receipt_total_minor < voucher.min_spend_minor:
        return 0
    if voucher.voucher_type is VoucherType.discount:
        assert voucher.discount_percent is not None
        amount = percent_of_floor(receipt_total_minor, voucher.discount_percent)
    elif voucher.voucher_type is VoucherType.cash:
        amount = voucher.balance_minor if voucher.has_balance else voucher.face_value_minor or 0
    else:
        return 0  # a gift certificate is tender, not a discount
    if voucher.max_use_percent is not None:
        amount = min(amount, percent_of_floor(receipt_total_minor, voucher.max_use_percent))
    return max(0, min(amount, receipt_total_minor))


def _preference(choice: VoucherChoice) -> tuple[int, bool, float, int]:
    expires_at = choice.voucher.expires_at
    return (
        -choice.discount_minor,
        expires_at is None,
        expires_at.timestamp() if expires_at is not None else 0.0,
        choice.voucher.serial_number,
    )


def best_voucher(
    candidates: list[VoucherView], receipt_total_minor: int, now: datetime
) -> VoucherChoice | None:
    """The biggest discount; on a tie the voucher that expires first, then the oldest serial.

    Deterministic, so the commit re-derives exactly the voucher the recalc showed. Vouchers
    with a PIN are never chosen automatically: the till has nowhere to ask for it.
    """
    choices = [
        VoucherChoice(voucher, discount_minor(voucher, receipt_total_minor))
        for voucher in candidates
        if not voucher.pin_protected
        and voucher.voucher_type is not VoucherType.gift
        and is_usable(voucher, now)
    ]
    choices = [choice for choice in choices if choice.discount_minor > 0]
    return min(choices, key=_preference, default=None)


@dataclass(frozen=True)
class CommitDecision:
    """What a sale commit does with the personal voucher it re-derived."""

    consume: VoucherChoice | None
    refuse: bool = False


def reconcile(
    implied_voucher_minor: int, best: VoucherChoice | None, *, recently_lost: bool
) -> CommitDecision:
    """Match the receipt to the voucher the commit re-derives.

    `implied_voucher_minor` is the receipt's discount beyond the points it spends: our recalc
    puts exactly the voucher's discount there, and MoySklad adds no other discount after a
    recalc. `recently_lost` says the customer had a voucher that stopped being usable within
    the recalc window (used at another till, expired, voided).

    - No voucher discount on the receipt: nothing is consumed (the customer keeps it).
    - The best voucher gives exactly that discount: consume it.
    - The receipt's discount does not cover the best voucher: the receipt was priced before
      it (or a better one) appeared; the cashier must recalc.
    - A smaller or no voucher now, while one was lost a moment ago: the receipt carries the lost
      voucher's discount; refuse rather than give it twice. Otherwise the extra discount is
      not ours and the best voucher still fits under it.
    """
    if implied_voucher_minor <= 0:
        return CommitDecision(None)
    if best is not None and best.discount_minor == implied_voucher_minor:
        return CommitDecision(best)
    if best is not None and best.discount_minor > implied_voucher_minor:
        return CommitDecision(None, refuse=True)
    if recently_lost:
        return CommitDecision(None, refuse=True)
    return CommitDecision(best)


def giftcard_status(voucher: VoucherView, now: datetime) -> str:
    """MoySklad's certificate status: CAN_BE_USED, PARTIALLY_REDEEMED, EXPIRED, REDEEMED or
    INVALID ("not available for sale or use for any reason": not a certificate, not sold yet,
    voided, or not valid yet)."""
    status = effective_status(voucher, now)
    if voucher.voucher_type is not VoucherType.gift or status in (
        VoucherStatus.new,
        VoucherStatus.void,
    ):
        return "INVALID"
    if status is VoucherStatus.expired:
        return "EXPIRED"
    if status is VoucherStatus.redeemed:
        return "REDEEMED"
    if voucher.valid_from is not None and voucher.valid_from > now:
        return "INVALID"
    if voucher.balance_minor < voucher.initial_balance_minor:
        return "PARTIALLY_REDEEMED"
    return "CAN_BE_USED"


def share_half_up(amount_minor: int, part: int, whole: int) -> int:
    """amount × part / whole, half up; exactly `amount` when part reaches whole."""
    if whole <= 0:
        return 0
    if part >= whole:
        return amount_minor
    return int((Decimal(amount_minor) * part / whole).to_integral_value(rounding=ROUND_HALF_UP))
