"""Property tests for the exact money arithmetic (spec §1.8: line sums round half up)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from loyalty.common import money

quantities = st.integers(min_value=1, max_value=10**9).map(
    lambda millis: Decimal(millis).scaleb(-3)
)
prices = st.integers(min_value=0, max_value=10**11)
# divisors of 500: for these, (2n + 1) / (2 × price) has at most 3 decimals
HALF_KOPECK_PRICES = [1, 2, 4, 5, 10, 20, 25, 50, 100, 125, 250, 500]


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


class TestAllocateProportionally:
    @settings(max_examples=400, deadline=None)
    @given(
        total=st.integers(min_value=0, max_value=10**12),
        weights=st.lists(st.integers(min_value=0, max_value=10**11), min_size=1, max_size=30),
    )
    @example(total=1, weights=[0, 1, 0])
    @example(total=2, weights=[1, 1, 1])
    @example(total=10**12, weights=[1, 10**11])
    def test_shares_are_exact_and_proportional(self, total: int, weights: list[int]) -> None:
        assume(total == 0 or sum(weights) > 0)
        shares = money.allocate_proportionally(total, weights)
        assert len(shares) == len(weights)
        assert sum(shares) == total
        weight_sum = sum(weights)
        for share, weight in zip(shares, weights, strict=True):
            if weight == 0:
                assert share == 0
                continue
            floor = total * weight // weight_sum
            assert share in (floor, floor + 1)

    @settings(max_examples=200, deadline=None)
    @given(
        total=st.integers(min_value=0, max_value=10**12),
        weights=st.lists(st.integers(min_value=1, max_value=10**11), min_size=1, max_size=30),
    )
    def test_is_deterministic_and_leaves_its_input_alone(
        self, total: int, weights: list[int]
    ) -> None:
        original = list(weights)
        first = money.allocate_proportionally(total, weights)
        assert weights == original
        assert money.allocate_proportionally(total, list(weights)) == first

    @settings(max_examples=200, deadline=None)
    @given(
        total=st.integers(min_value=0, max_value=10**6),
        weight=st.integers(min_value=1, max_value=10**6),
        count=st.integers(min_value=1, max_value=30),
    )
    def test_equal_weights_differ_by_at_most_one(self, total: int, weight: int, count: int) -> None:
        shares = money.allocate_proportionally(total, [weight] * count)
        assert max(shares) - min(shares) <= 1
        assert shares == sorted(shares, reverse=True), "extra units go to the earliest"

    def test_zero_total_gives_zero_shares(self) -> None:
        assert money.allocate_proportionally(0, [0, 0]) == [0, 0]
        assert money.allocate_proportionally(0, []) == []

    def test_refuses_what_cannot_be_split(self) -> None:
        with pytest.raises(ValueError, match="non-negative"):
            money.allocate_proportionally(-1, [1])
        with pytest.raises(ValueError, match="zero weights"):
            money.allocate_proportionally(5, [0, 0])


class TestLineSum:
    @settings(max_examples=400, deadline=None)
    @given(quantity=quantities, price=prices)
    def test_is_quantity_times_price_rounded_half_up(self, quantity: Decimal, price: int) -> None:
        assert money.line_sum_minor(quantity, price) == half_up(Fraction(quantity) * price)

    @settings(max_examples=300, deadline=None)
    @given(
        whole=st.integers(min_value=0, max_value=10**7),
        price=st.sampled_from(HALF_KOPECK_PRICES),
    )
    def test_half_a_kopeck_rounds_up(self, whole: int, price: int) -> None:
        # quantity × price == whole + 0.5 exactly; banker's rounding would go down for even `whole`
        millis = (2 * whole + 1) * 500 // price
        quantity = Decimal(millis).scaleb(-3)
        assert Fraction(quantity) * price == Fraction(2 * whole + 1, 2)
        assert money.line_sum_minor(quantity, price) == whole + 1

    @pytest.mark.parametrize(
        ("quantity", "price", "expected"),
        [
            ("0.5", 1, 1),
            ("2.5", 1, 3),  # ROUND_HALF_EVEN would give 2
            ("1.5", 3, 5),  # 4.5
            ("0.005", 100, 1),  # 0.5
            ("0.001", 499, 0),  # 0.499
            ("0.001", 500, 1),  # 0.500
            ("123.456", 12345, 1_524_064),  # 1 524 064.32
            ("1.5", 9999, 14999),  # 14 998.5
        ],
    )
    def test_examples(self, quantity: str, price: int, expected: int) -> None:
        assert money.line_sum_minor(Decimal(quantity), price) == expected


class TestDiscountPercent:
    @settings(max_examples=400, deadline=None)
    @given(data=st.data(), price=st.integers(min_value=1, max_value=10**11))
    def test_is_the_share_taken_off_rounded_half_up_to_hundredths(
        self, data: st.DataObject, price: int
    ) -> None:
        discounted = data.draw(st.integers(min_value=0, max_value=price))
        percent = money.discount_percent(price, discounted)
        expected = Fraction(half_up(Fraction(price - discounted, price) * 10_000), 100)
        assert Fraction(percent) == expected
        assert percent.as_tuple().exponent == -2, "always two decimals"
        assert Decimal(0) <= percent <= Decimal(100)

    @settings(max_examples=200, deadline=None)
    @given(
        scale=st.integers(min_value=1, max_value=10**6),
        odd=st.integers(min_value=0, max_value=9_999).map(lambda n: 2 * n + 1),
    )
    def test_half_a_hundredth_rounds_up(self, scale: int, odd: int) -> None:
        # price 200.00 × scale, taking odd × scale kopecks off: exactly odd / 200 %, i.e. x.xx5
        price = 20_000 * scale
        discounted = price - odd * scale
        expected = Decimal(odd + 1) / 200
        assert money.discount_percent(price, discounted) == expected

    @pytest.mark.parametrize(
        ("price", "discounted", "expected"),
        [
            (20_000, 19_999, "0.01"),  # 0.005 %; ROUND_HALF_EVEN would give 0.00
            (20_000, 19_995, "0.03"),  # 0.025 %
            (12_345, 6_295, "49.01"),  # 49.0076 %
            (3, 2, "33.33"),
            (3, 1, "66.67"),
            (100, 0, "100.00"),
            (100, 100, "0.00"),
            (0, 0, "0.00"),  # a free item has no discount percentage
        ],
    )
    def test_examples(self, price: int, discounted: int, expected: str) -> None:
        assert money.discount_percent(price, discounted) == Decimal(expected)
        assert str(money.discount_percent(price, discounted)) == expected


@st.composite
def finite_decimals(draw: st.DrawFn) -> Decimal:
    """Any finite Decimal, written with any exponent: 1.50, 15E-1, 1E+30, -0.000 ..."""
    coefficient = draw(st.one_of(st.integers(-(10**6), 10**6), st.integers(-(10**40), 10**40)))
    exponent = draw(st.integers(min_value=-40, max_value=40))
    return Decimal(coefficient).scaleb(exponent)


class TestHasAtMostDecimals:
    @settings(max_examples=400, deadline=None)
    @given(value=finite_decimals(), places=st.integers(min_value=0, max_value=6))
    @example(value=Decimal("1E+30"), places=2)
    @example(value=Decimal("123456789012345678901234567.8"), places=2)
    def test_agrees_with_exact_arithmetic(self, value: Decimal, places: int) -> None:
        expected = (Fraction(value) * 10**places).denominator == 1
        assert money.has_at_most_decimals(value, places) is expected

    @settings(max_examples=200, deadline=None)
    @given(
        hundredths=st.integers(min_value=0, max_value=10**13),
        trailing_zeros=st.integers(min_value=0, max_value=4),
    )
    def test_trailing_zeros_do_not_count(self, hundredths: int, trailing_zeros: int) -> None:
        value = Decimal(hundredths * 10**trailing_zeros).scaleb(-2 - trailing_zeros)
        assert money.has_at_most_decimals(value, 2)
        assert money.has_at_most_decimals(value + Decimal("0.001"), 2) is False

    @pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
    def test_rejects_non_finite_values(self, value: str) -> None:
        assert money.has_at_most_decimals(Decimal(value), 3) is False

    @pytest.mark.parametrize(
        ("value", "places", "expected"),
        [
            ("62.95", 2, True),
            ("62.950", 2, True),
            ("62.951", 2, False),
            ("1.5E+3", 0, True),
            ("123.456", 3, True),
            ("123.4567", 3, False),
            ("0", 0, True),
            ("-0.00", 0, True),
        ],
    )
    def test_examples(self, value: str, places: int, expected: bool) -> None:
        assert money.has_at_most_decimals(Decimal(value), places) is expected


class TestRoubles:
    @settings(max_examples=200, deadline=None)
    @given(minor=st.integers(min_value=0, max_value=10**13))
    def test_kopecks_round_trip_through_roubles(self, minor: int) -> None:
        roubles = money.minor_to_roubles(minor)
        assert roubles.as_tuple().exponent == -2
        assert Fraction(roubles) == Fraction(minor, 100)
        assert money.roubles_to_minor(roubles) == minor
