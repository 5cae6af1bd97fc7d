"""Pure voucher rules: discounts, the voucher a receipt gets, and commit reconciliation."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.vouchers import rules
from loyalty.vouchers.schemas import VoucherChoice, VoucherStatus, VoucherType, VoucherView

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def voucher(**fields: object) -> VoucherView:
    base = VoucherView(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        batch_id=uuid.uuid4(),
        batch_code="B",
        batch_name="Серия",
        batch_limited=False,
        serial_number=1,
        code="CODE",
        voucher_type=VoucherType.discount,
        currency="RUB",
        face_value_minor=None,
        discount_percent=Decimal(10),
        has_balance=False,
        min_spend_minor=0,
        max_use_percent=None,
        usage_limit=1,
        pin_protected=False,
        customer_id=None,
        origin="SYSTEM",
        note=None,
        valid_from=None,
        expires_at=None,
        issued_at=NOW,
        status=VoucherStatus.issued,
        balance_minor=0,
        initial_balance_minor=0,
        used_count=0,
        version=1,
        last_used_at=None,
        status_changed_at=None,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


class TestDiscount:
    def test_percent_rounds_down_to_the_kopeck(self) -> None:
        assert rules.discount_minor(voucher(discount_percent=Decimal("7.5")), 12_345) == 925

    def test_below_the_minimum_spend_gives_nothing(self) -> None:
        assert rules.discount_minor(voucher(min_spend_minor=100_000), 99_999) == 0
        assert rules.discount_minor(voucher(min_spend_minor=100_000), 100_000) == 10_000

    def test_cash_voucher_is_capped_by_its_share_of_the_receipt_and_the_receipt(self) -> None:
        cash = voucher(
            voucher_type=VoucherType.cash, discount_percent=None, face_value_minor=50_000
        )
        assert rules.discount_minor(cash, 30_000) == 30_000
        assert rules.discount_minor(replace(cash, max_use_percent=Decimal(50)), 30_000) == 15_000

    def test_cash_voucher_with_a_balance_gives_at_most_its_balance(self) -> None:
        stored = voucher(
            voucher_type=VoucherType.cash,
            discount_percent=None,
            face_value_minor=50_000,
            has_balance=True,
            balance_minor=12_000,
            usage_limit=None,
        )
        assert rules.discount_minor(stored, 100_000) == 12_000

    def test_a_gift_certificate_is_tender_not_a_discount(self) -> None:
        gift = voucher(voucher_type=VoucherType.gift, discount_percent=None, has_balance=True)
        assert rules.discount_minor(replace(gift, balance_minor=10_000), 100_000) == 0


class TestBestVoucher:
    def test_biggest_discount_wins_then_soonest_expiry_then_oldest(self) -> None:
        small = voucher(discount_percent=Decimal(5), serial_number=1)
        late = voucher(serial_number=2, expires_at=NOW + timedelta(days=30))
        soon = voucher(serial_number=3, expires_at=NOW + timedelta(days=3))
        never = voucher(serial_number=4)
        best = rules.best_voucher([small, never, late, soon], 10_000, NOW)
        assert best is not None and best.voucher is soon and best.discount_minor == 1_000
        best = rules.best_voucher([never, replace(never, serial_number=0)], 10_000, NOW)
        assert best is not None and best.voucher.serial_number == 0

    def test_unusable_pin_protected_and_gift_vouchers_are_never_chosen(self) -> None:
        candidates = [
            voucher(expires_at=NOW),
            voucher(valid_from=NOW + timedelta(hours=1)),
            voucher(used_count=1),
            voucher(status=VoucherStatus.void),
            voucher(pin_protected=True),
            voucher(voucher_type=VoucherType.gift, has_balance=True, balance_minor=100),
        ]
        assert rules.best_voucher(candidates, 10_000, NOW) is None

    @given(st.permutations(list(range(6))))
    def test_the_choice_does_not_depend_on_the_order_of_candidates(self, order: list[int]) -> None:
        pool = [voucher(serial_number=n, discount_percent=Decimal(5 + n % 3)) for n in range(6)]
        first = rules.best_voucher(pool, 10_000, NOW)
        again = rules.best_voucher([pool[i] for i in order], 10_000, NOW)
        assert first is not None and again is not None and first.voucher is again.voucher


class TestReconcile:
    choice = VoucherChoice(voucher(), 1_000)

    @pytest.mark.parametrize(
        ("implied", "best", "lost", "consumes", "refuses"),
        [
            (0, choice, False, False, False),  # no voucher discount on the receipt
            (1_000, choice, False, True, False),  # exactly the voucher's discount
            (500, choice, False, False, True),  # priced before this voucher appeared
            (1_500, None, True, False, True),  # the voucher went to another till
            (1_500, choice, True, False, True),  # a bigger one went, a smaller remains
            (1_500, None, False, False, False),  # a discount that is not ours
            (1_500, choice, False, True, False),
        ],
    )
    def test_decision_table(
        self,
        implied: int,
        best: VoucherChoice | None,
        lost: bool,
        consumes: bool,
        refuses: bool,
    ) -> None:
        decision = rules.reconcile(implied, best, recently_lost=lost)
        assert (decision.consume is not None, decision.refuse) == (consumes, refuses)


class TestGiftCardStatus:
    gift = voucher(
        voucher_type=VoucherType.gift,
        discount_percent=None,
        has_balance=True,
        balance_minor=100_000,
        initial_balance_minor=100_000,
        usage_limit=None,
    )

    @pytest.mark.parametrize(
        ("changes", "status"),
        [
            ({}, "CAN_BE_USED"),
            ({"balance_minor": 40_000}, "PARTIALLY_REDEEMED"),
            ({"balance_minor": 0, "status": VoucherStatus.redeemed}, "REDEEMED"),
            ({"expires_at": NOW}, "EXPIRED"),
            ({"status": VoucherStatus.expired, "balance_minor": 0}, "EXPIRED"),
            ({"status": VoucherStatus.new}, "INVALID"),
            ({"status": VoucherStatus.void, "balance_minor": 0}, "INVALID"),
            ({"valid_from": NOW + timedelta(days=1)}, "INVALID"),
            ({"voucher_type": VoucherType.cash}, "INVALID"),
        ],
    )
    def test_moysklad_statuses(self, changes: dict[str, object], status: str) -> None:
        assert rules.giftcard_status(replace(self.gift, **changes), NOW) == status  # type: ignore[arg-type]


@given(st.integers(1, 10**9), st.lists(st.integers(1, 10**6), min_size=1, max_size=8))
def test_cumulative_shares_only_grow_and_end_exactly_at_the_amount(
    amount: int, parts: list[int]
) -> None:
    whole = sum(parts)
    returned = 0
    previous = 0
    for part in parts:
        returned += part
        share = rules.share_half_up(amount, returned, whole)
        assert previous <= share <= amount
        previous = share
    assert previous == amount
