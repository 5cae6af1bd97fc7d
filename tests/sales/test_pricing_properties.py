"""Property tests for the pure receipt pricing (spec §1.5 "Rounding and splitting rule", §1.8).

Every oracle here is computed independently of the code under test: line sums with
`fractions.Fraction` and half-up rounding by hand, caps and earnings with exact rationals.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loyalty.common.money import line_sum_minor
from loyalty.sales import pricing
from loyalty.sales.pricing import PricedLine, PricingError, PricingLine

MAX_QUANTITY_MILLIS = 10_000_000  # 10 000 units, 3 decimals
MAX_PRICE_MINOR = 1_000_000  # 10 000 roubles per unit
MAX_LINES = 30


def half_up(value: Fraction) -> int:
    """Round a non-negative rational half up to an integer (the §1.8 convention)."""
    return math.floor(value + Fraction(1, 2))


def exact_line_sum(quantity: Decimal, price_minor: int) -> int:
    return half_up(Fraction(quantity) * price_minor)


def decimals_of(value: Decimal) -> int:
    """How many decimals `value` really needs (trailing zeros do not count)."""
    fraction = Fraction(value)
    places = 0
    while (fraction * 10**places).denominator != 1:
        places += 1
    return places


def is_whole(value: Decimal) -> bool:
    return Fraction(value).denominator == 1


# --- strategies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    lines: list[PricingLine]
    discount_minor: int

    @property
    def total_minor(self) -> int:
        return sum(exact_line_sum(line.quantity, line.price_minor) for line in self.lines)


whole_quantities = st.integers(min_value=1, max_value=MAX_QUANTITY_MILLIS // 1000).map(Decimal)
fractional_quantities = st.one_of(
    st.integers(min_value=1, max_value=3_000),  # below 3 units: the hardest to round
    st.integers(min_value=1, max_value=MAX_QUANTITY_MILLIS),
    st.sampled_from([1, 2, 499, 500, 501, 999, 1001, 1500, 2500, 123_456]),
).map(lambda millis: Decimal(millis).scaleb(-3))
prices = st.one_of(
    st.integers(min_value=0, max_value=20),  # tiny prices leave few reachable sums
    st.integers(min_value=0, max_value=MAX_PRICE_MINOR),
    st.sampled_from([499, 500, 501, 999, 1000, 1001, 9999, 12345, 10000]),
)


@st.composite
def pricing_lines(draw: st.DrawFn) -> PricingLine:
    quantity = draw(st.one_of(whole_quantities, fractional_quantities))
    price = draw(prices)
    serials = draw(st.sampled_from(["none", "matching", "inconsistent"]))
    if serials == "none":
        return PricingLine(quantity, price, 0)
    if serials == "matching" and is_whole(quantity):
        return PricingLine(quantity, price, int(quantity))
    # e.g. one serial number on 123.456 kg, as in the seed example
    count = draw(st.integers(min_value=1, max_value=50))
    if count == quantity:
        count += 1
    return PricingLine(quantity, price, count)


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    lines = draw(st.lists(pricing_lines(), min_size=1, max_size=MAX_LINES))
    total = sum(exact_line_sum(line.quantity, line.price_minor) for line in lines)
    discount = draw(
        st.one_of(
            st.integers(min_value=0, max_value=total),
            st.integers(min_value=0, max_value=min(total, 200)),  # one or a few kopecks
            st.integers(min_value=max(0, total - 200), max_value=total),  # almost everything
        )
    )
    return Receipt(lines, discount)


# --- the contract every distribution must satisfy -------------------------------------------------


def assert_valid_distribution(
    lines: list[PricingLine], discount: int, out: list[PricedLine]
) -> None:
    total = sum(exact_line_sum(line.quantity, line.price_minor) for line in lines)
    paid = sum(exact_line_sum(part.quantity, part.discounted_price_minor) for part in out)
    assert paid == total - discount, "discounted line sums must add up to the kopeck"

    assert len(out) <= len(lines) + 1
    indices = [part.source_index for part in out]
    assert indices == sorted(indices), "positions keep their order"
    assert set(indices) == set(range(len(lines))), "no position disappears or appears"

    parts_by_line: dict[int, list[PricedLine]] = defaultdict(list)
    for part in out:
        parts_by_line[part.source_index].append(part)
    assert sum(1 for parts in parts_by_line.values() if len(parts) > 1) <= 1, "one split at most"
    assert all(len(parts) <= 2 for parts in parts_by_line.values()), "a split makes two positions"

    for index, line in enumerate(lines):
        parts = parts_by_line[index]
        assert sum((part.quantity for part in parts), Decimal(0)) == line.quantity
        serial_cursor = 0
        for part in parts:
            assert part.price_minor == line.price_minor
            assert 0 <= part.discounted_price_minor <= part.price_minor
            assert part.quantity > 0
            assert decimals_of(part.quantity) <= 3
            percent = part.discount_percent
            assert Decimal(0) <= percent <= Decimal(100)
            assert decimals_of(percent) <= 2
            assert part.serial_start == serial_cursor, "serial slices are contiguous"
            assert part.serial_start <= part.serial_end
            serial_cursor = part.serial_end
            if line.serial_count > 0 and line.serial_count == line.quantity:
                assert part.serial_end - part.serial_start == part.quantity, "sn count == quantity"
        assert serial_cursor == line.serial_count, "every serial number is kept exactly once"


# --- apply_discount -----------------------------------------------------------------------------


class TestApplyDiscountIsExact:
    @settings(max_examples=500, deadline=None)
    @given(receipt=receipts())
    def test_spreads_any_discount_to_the_kopeck(self, receipt: Receipt) -> None:
        out = pricing.apply_discount(receipt.lines, receipt.discount_minor)
        assert_valid_distribution(receipt.lines, receipt.discount_minor, out)

    @settings(max_examples=300, deadline=None)
    @given(
        lines=st.lists(
            st.builds(
                PricingLine,
                quantity=st.integers(min_value=1, max_value=3_000).map(
                    lambda millis: Decimal(millis).scaleb(-3)
                ),
                price_minor=st.integers(min_value=0, max_value=20),
                serial_count=st.just(0),
            ),
            min_size=1,
            max_size=MAX_LINES,
        ),
        data=st.data(),
    )
    def test_spreads_a_discount_over_small_fractional_lines(
        self, lines: list[PricingLine], data: st.DataObject
    ) -> None:
        total = sum(exact_line_sum(line.quantity, line.price_minor) for line in lines)
        discount = data.draw(st.integers(min_value=0, max_value=total))
        out = pricing.apply_discount(lines, discount)
        assert_valid_distribution(lines, discount, out)

    @settings(max_examples=400, deadline=None)
    @given(
        millis=st.integers(min_value=1001, max_value=5_000),
        price=st.integers(min_value=1, max_value=200),
        serials=st.integers(min_value=0, max_value=2),
        data=st.data(),
    )
    @example(millis=1010, price=50, serials=0, data=None)  # see the regression below
    def test_a_lone_weighed_position_takes_any_discount(
        self, millis: int, price: int, serials: int, data: st.DataObject | None
    ) -> None:
        # Alone on the receipt, nothing else can absorb a kopeck: the split must work by itself.
        lines = [PricingLine(Decimal(millis).scaleb(-3), price, serials)]
        total = exact_line_sum(lines[0].quantity, price)
        discount = 1 if data is None else data.draw(st.integers(min_value=0, max_value=total))
        out = pricing.apply_discount(lines, discount)
        assert_valid_distribution(lines, discount, out)

    @settings(max_examples=300, deadline=None)
    @given(
        lines=st.lists(
            st.builds(
                lambda units, price: PricingLine(Decimal(units), price, units),
                st.integers(min_value=1, max_value=12),
                st.integers(min_value=0, max_value=MAX_PRICE_MINOR),
            ),
            min_size=1,
            max_size=MAX_LINES,
        ),
        data=st.data(),
    )
    def test_splits_serialised_positions_only_in_whole_units(
        self, lines: list[PricingLine], data: st.DataObject
    ) -> None:
        total = sum(exact_line_sum(line.quantity, line.price_minor) for line in lines)
        discount = data.draw(st.integers(min_value=0, max_value=total))
        out = pricing.apply_discount(lines, discount)
        assert_valid_distribution(lines, discount, out)
        assert all(is_whole(part.quantity) for part in out)


class TestApplyDiscountEdges:
    @settings(max_examples=200, deadline=None)
    @given(lines=st.lists(pricing_lines(), min_size=1, max_size=MAX_LINES))
    def test_no_discount_leaves_the_receipt_unchanged(self, lines: list[PricingLine]) -> None:
        out = pricing.apply_discount(lines, 0)
        assert [
            (part.source_index, part.quantity, part.price_minor, part.discounted_price_minor)
            for part in out
        ] == [
            (index, line.quantity, line.price_minor, line.price_minor)
            for index, line in enumerate(lines)
        ]
        assert [(part.serial_start, part.serial_end) for part in out] == [
            (0, line.serial_count) for line in lines
        ]
        assert all(part.discount_percent == 0 for part in out)

    @settings(max_examples=200, deadline=None)
    @given(lines=st.lists(pricing_lines(), min_size=1, max_size=MAX_LINES))
    @example(lines=[PricingLine(Decimal("0.001"), 1, 0)])
    def test_a_discount_of_the_whole_total_makes_everything_free(
        self, lines: list[PricingLine]
    ) -> None:
        total = sum(exact_line_sum(line.quantity, line.price_minor) for line in lines)
        out = pricing.apply_discount(lines, total)
        assert_valid_distribution(lines, total, out)
        if total == 0:
            # e.g. 0.001 × 0.01 rounds to nothing: a zero discount, so nothing changes
            assert out == pricing.apply_discount(lines, 0)
            return
        # Every line is paid 0; which unit price shows it (the highest giving 0) is checked by
        # test_equal_sums_show_the_smallest_discount.
        assert all(part.paid_minor == 0 for part in out)
        assert all(0 <= part.discount_percent <= 100 for part in out)

    @settings(max_examples=200, deadline=None)
    @given(lines=st.lists(pricing_lines(), min_size=1, max_size=MAX_LINES), data=st.data())
    def test_equal_sums_show_the_smallest_discount(
        self, lines: list[PricingLine], data: st.DataObject
    ) -> None:
        total = sum(line.total_minor for line in lines)
        out = pricing.apply_discount(lines, data.draw(st.integers(min_value=0, max_value=total)))
        split = {
            index for index in range(len(lines)) if sum(p.source_index == index for p in out) > 1
        }
        for part in out:
            if part.source_index in split:
                continue
            higher = part.discounted_price_minor + 1
            if higher <= part.price_minor:
                assert line_sum_minor(part.quantity, higher) != part.paid_minor

    @settings(max_examples=100, deadline=None)
    @given(
        lines=st.lists(pricing_lines(), min_size=1, max_size=5),
        beyond=st.integers(min_value=1, max_value=10**6),
    )
    def test_refuses_a_discount_outside_the_receipt(
        self, lines: list[PricingLine], beyond: int
    ) -> None:
        total = sum(exact_line_sum(line.quantity, line.price_minor) for line in lines)
        with pytest.raises(PricingError):
            pricing.apply_discount(lines, total + beyond)
        with pytest.raises(PricingError):
            pricing.apply_discount(lines, -beyond)

    @settings(max_examples=100, deadline=None)
    @given(receipt=receipts())
    def test_is_deterministic(self, receipt: Receipt) -> None:
        first = pricing.apply_discount(list(receipt.lines), receipt.discount_minor)
        second = pricing.apply_discount(list(receipt.lines), receipt.discount_minor)
        assert first == second


class TestApplyDiscountRegressions:
    @pytest.mark.parametrize("discount", [1, 2, 3, 100, 150_000, 762_032, 1_524_063, 1_524_064])
    def test_seed_position_with_one_serial_on_a_weighed_quantity(self, discount: int) -> None:
        # spec §1.5 example: 123.456 × 123.45 with a single sn
        lines = [PricingLine(Decimal("123.456"), 12345, 1)]
        out = pricing.apply_discount(lines, discount)
        assert_valid_distribution(lines, discount, out)
        assert sum(part.serial_end - part.serial_start for part in out) == 1

    def test_one_kopeck_off_three_units_at_100_splits_two_and_one(self) -> None:
        lines = [PricingLine(Decimal(3), 10000, 3)]
        out = pricing.apply_discount(lines, 1)
        assert_valid_distribution(lines, 1, out)
        assert sorted((part.quantity, part.discounted_price_minor) for part in out) == [
            (Decimal(1), 9999),
            (Decimal(2), 10000),
        ]
        for part in out:
            assert part.serial_end - part.serial_start == part.quantity

    def test_split_steps_away_from_two_half_kopecks(self) -> None:
        # 1.01 × 0.50 = 50.5 → 51; 50 needs a split, and the first guess 0.51 @ 0.50 + 0.50 @ 0.49
        # is 25.5 + 24.5, which rounds to 26 + 25 = 51; the split must move by 0.001.
        lines = [PricingLine(Decimal("1.01"), 50, 0)]
        out = pricing.apply_discount(lines, 1)
        assert_valid_distribution(lines, 1, out)
        assert len(out) == 2

    def test_one_kopeck_off_three_units_without_serials(self) -> None:
        lines = [PricingLine(Decimal(3), 10000, 0)]
        out = pricing.apply_discount(lines, 1)
        assert_valid_distribution(lines, 1, out)
        assert len(out) == 2

    def test_weighed_goods_next_to_serialised_units_split_when_unavoidable(self) -> None:
        # 1.5 kg at 99.99 reaches only sums ≡ 0 or 2 (mod 3); the serialised lines only
        # multiples of 3. Paying 15301 (≡ 1 mod 3) is impossible without a split.
        lines = [
            PricingLine(Decimal("1.5"), 9999, 0),
            PricingLine(Decimal(3), 1, 3),
            PricingLine(Decimal(6), 50, 6),
        ]
        total = sum(exact_line_sum(line.quantity, line.price_minor) for line in lines)
        assert total == 15302
        reachable = {
            sum(combo)
            for combo in itertools.product(
                *(
                    {exact_line_sum(line.quantity, price) for price in range(line.price_minor + 1)}
                    for line in lines
                )
            )
        }
        assert total - 1 not in reachable
        out = pricing.apply_discount(lines, 1)
        assert_valid_distribution(lines, 1, out)
        assert len(out) == 4

    @pytest.mark.parametrize("discount", [1, 2, 7, 5000, 14998])
    def test_weighed_goods_mixed_with_whole_units(self, discount: int) -> None:
        lines = [
            PricingLine(Decimal("1.5"), 9999, 0),
            PricingLine(Decimal(2), 4999, 2),
            PricingLine(Decimal(1), 1, 1),
            PricingLine(Decimal("0.333"), 100, 1),
        ]
        out = pricing.apply_discount(lines, discount)
        assert_valid_distribution(lines, discount, out)

    def test_many_lines_each_one_kopeck_off_in_the_same_direction(self) -> None:
        lines = [PricingLine(Decimal("1.5"), 1, 0) for _ in range(MAX_LINES)]
        for discount in range(2 * MAX_LINES + 1):
            out = pricing.apply_discount(lines, discount)
            assert_valid_distribution(lines, discount, out)


# --- points -------------------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=10**11)
percents = st.integers(min_value=0, max_value=10_000).map(
    lambda hundredths: Decimal(hundredths).scaleb(-2)
)
balances = st.integers(min_value=-1_000, max_value=10**9)
preferences = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**9).map(Decimal),
    st.integers(min_value=0, max_value=10**11).map(
        lambda hundredths: Decimal(hundredths).scaleb(-2)
    ),
)


def cap_oracle(total_minor: int, percent: Decimal) -> int:
    # percent % of the total, in roubles (= points), rounded down
    return math.floor(Fraction(total_minor, 100) * Fraction(percent) / 100)


class TestPointsToSpend:
    @settings(max_examples=400, deadline=None)
    @given(total=amounts, available=balances, percent=percents, preferred=preferences)
    def test_never_exceeds_balance_cap_or_preference(
        self, total: int, available: int, percent: Decimal, preferred: Decimal | None
    ) -> None:
        spend = pricing.points_to_spend(total, available, percent, preferred)
        assert isinstance(spend, int)
        assert spend >= 0
        assert spend <= max(available, 0)
        assert spend <= cap_oracle(total, percent)
        assert spend * 100 <= total, "points never pay more than the receipt"
        if preferred is not None:
            assert spend <= math.floor(Fraction(preferred))

    @settings(max_examples=400, deadline=None)
    @given(total=amounts, available=balances, percent=percents, preferred=preferences)
    def test_takes_the_largest_amount_allowed(
        self, total: int, available: int, percent: Decimal, preferred: Decimal | None
    ) -> None:
        limit = max(0, min(available, cap_oracle(total, percent)))
        spend = pricing.points_to_spend(total, available, percent, preferred)
        if preferred is None:
            assert spend == limit
        else:
            assert spend == min(limit, math.floor(Fraction(preferred)))

    @settings(max_examples=300, deadline=None)
    @given(total=amounts, available=balances, percent=percents)
    def test_max_spendable_is_the_no_preference_answer(
        self, total: int, available: int, percent: Decimal
    ) -> None:
        assert pricing.spend_cap_points(total, percent) == cap_oracle(total, percent)
        maximum = pricing.max_spendable_points(total, available, percent)
        assert maximum == max(0, min(available, cap_oracle(total, percent)))
        assert pricing.points_to_spend(total, available, percent, None) == maximum
        assert pricing.spend_discount_minor(maximum) == maximum * 100

    @pytest.mark.parametrize(
        ("total", "available", "percent", "preferred", "expected"),
        [
            (10_000, 500, Decimal(50), None, 50),  # 50 % of 100.00 roubles
            (10_099, 500, Decimal(50), None, 50),  # 50.495 → 50
            (10_000, 20, Decimal(50), None, 20),  # the balance limits
            (10_000, 500, Decimal(50), Decimal("10.99"), 10),  # preferences round down
            (10_000, 500, Decimal(50), Decimal(0), 0),
            (99, 500, Decimal(100), None, 0),  # 0.99 rouble is no whole point
            (10_000, 0, Decimal(100), None, 0),
            (10_000, -5, Decimal(100), None, 0),  # debt never turns into negative spending
        ],
    )
    def test_examples(
        self, total: int, available: int, percent: Decimal, preferred: Decimal | None, expected: int
    ) -> None:
        assert pricing.points_to_spend(total, available, percent, preferred) == expected


class TestPointsToEarn:
    @settings(max_examples=400, deadline=None)
    @given(
        paid=amounts,
        percent=percents,
        spent=st.integers(min_value=0, max_value=10**9),
        earn_on_spend=st.booleans(),
    )
    def test_earns_the_percentage_of_the_money_paid_rounded_down(
        self, paid: int, percent: Decimal, spent: int, earn_on_spend: bool
    ) -> None:
        earned = pricing.points_to_earn(paid, percent, spent, earn_on_spend)
        assert isinstance(earned, int)
        if spent > 0 and not earn_on_spend:
            assert earned == 0
        else:
            assert earned == cap_oracle(paid, percent)
        assert earned >= 0

    @settings(max_examples=300, deadline=None)
    @given(
        paid=amounts,
        extra=st.integers(min_value=0, max_value=10**9),
        percent=percents,
        spent=st.integers(min_value=0, max_value=10**9),
        earn_on_spend=st.booleans(),
    )
    def test_paying_more_never_earns_less(
        self, paid: int, extra: int, percent: Decimal, spent: int, earn_on_spend: bool
    ) -> None:
        smaller = pricing.points_to_earn(paid, percent, spent, earn_on_spend)
        larger = pricing.points_to_earn(paid + extra, percent, spent, earn_on_spend)
        assert smaller <= larger

    @pytest.mark.parametrize(
        ("paid", "percent", "spent", "earn_on_spend", "expected"),
        [
            (150_000, Decimal(10), 0, False, 150),  # the seed example: 1500 roubles at 10 %
            (9_999, Decimal(1), 0, False, 0),
            (10_000, Decimal(1), 0, False, 1),
            (10_000, Decimal(5), 3, False, 0),
            (10_000, Decimal(5), 3, True, 5),
            (12_345, Decimal("3.33"), 0, True, 4),  # 4.110885 → 4
            (0, Decimal(10), 0, True, 0),
        ],
    )
    def test_examples(
        self, paid: int, percent: Decimal, spent: int, earn_on_spend: bool, expected: int
    ) -> None:
        assert pricing.points_to_earn(paid, percent, spent, earn_on_spend) == expected
