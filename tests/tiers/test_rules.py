"""Pure tier and category-rule arithmetic, against oracles computed independently."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from loyalty.category_rules import rules as category_rules
from loyalty.category_rules.schemas import Effect, LineTerms
from loyalty.sales import pricing
from loyalty.tiers import rules
from loyalty.tiers.schemas import Tier

percents = st.integers(min_value=0, max_value=10_000).map(
    lambda hundredths: Decimal(hundredths) / 100
)
amounts = st.integers(min_value=0, max_value=10**11)


def tier(name: str, threshold_minor: int) -> Tier:
    return Tier(name, threshold_minor, Decimal(1), Decimal(1))


class TestWindow:
    def test_the_window_counts_whole_calendar_months_across_years(self) -> None:
        now = datetime(2027, 2, 28, 23, 59, tzinfo=UTC)
        assert rules.window_start(now, 1) == date(2027, 2, 1)
        assert rules.window_start(now, 12) == date(2026, 3, 1)
        assert rules.window_start(now, 25) == date(2025, 2, 1)

    def test_a_month_is_reviewed_when_it_leaves_the_window(self) -> None:
        assert rules.review_at(date(2026, 11, 1), 2) == datetime(2027, 1, 1, tzinfo=UTC)
        assert rules.review_at(None, 12) is None

    def test_months_are_utc(self) -> None:
        moscow_new_year = datetime.fromisoformat("2027-01-01T01:00:00+03:00")
        assert rules.month_of(moscow_new_year) == date(2026, 12, 1)


class TestStanding:
    tiers = (tier("A", 0), tier("B", 100_000), tier("C", 500_000))

    def test_the_highest_reached_threshold_wins(self) -> None:
        cases = {0: "A", 99_999: "A", 100_000: "B", 499_999: "B", 500_000: "C", 10**12: "C"}
        for total, name in cases.items():
            reached = rules.standing(self.tiers, total).tier
            assert reached is not None and reached.name == name, total

    def test_below_the_lowest_threshold_there_is_no_tier_and_negative_totals_count_as_zero(
        self,
    ) -> None:
        raised = (tier("B", 100_000),)
        standing = rules.standing(raised, -5_000)
        assert standing.tier is None and standing.window_total_minor == 0
        assert standing.next_tier == raised[0]
        assert rules.receipt_line(standing) == "До уровня «B» осталось 1 000,00 ₽"

    def test_receipt_line(self) -> None:
        assert (
            rules.receipt_line(rules.standing(self.tiers, 375_000))
            == "Уровень «B». До уровня «C» осталось 1 250,00 ₽"
        )
        assert rules.receipt_line(rules.standing(self.tiers, 600_000)) == "Уровень «C»."
        assert rules.roubles_text(123_456_789_01) == "123 456 789,01 ₽"


class TestCategoryRules:
    def test_the_nearest_rule_applies_whole(self) -> None:
        base = Decimal(5)
        assert category_rules.line_terms(None, base) == LineTerms(base, True)
        assert category_rules.line_terms(Effect(no_earn=True), base) == LineTerms(Decimal(0))
        assert category_rules.line_terms(Effect(no_spend=True), base) == LineTerms(base, False)
        assert category_rules.line_terms(Effect(Decimal(12)), base) == LineTerms(Decimal(12))

    @given(st.lists(amounts, min_size=1, max_size=30), percents, st.booleans())
    def test_one_percent_for_every_line_is_the_receipt_rule(
        self, paid: list[int], percent: Decimal, spent: bool
    ) -> None:
        terms = [LineTerms(percent)] * len(paid)
        assert category_rules.points_to_earn(
            paid, terms, int(spent), False
        ) == pricing.points_to_earn(sum(paid), percent, int(spent), False)

    @given(st.lists(st.tuples(amounts, percents, st.booleans()), min_size=1, max_size=30))
    def test_earning_is_floor_of_the_exact_sum_and_shares_add_up(
        self, lines: list[tuple[int, Decimal, bool]]
    ) -> None:
        paid = [amount for amount, _, _ in lines]
        terms = [LineTerms(percent, allowed) for _, percent, allowed in lines]
        exact = sum(
            Fraction(amount) * Fraction(percent) / 100 / 100 for amount, percent, _ in lines
        )
        earned = category_rules.points_to_earn(paid, terms, 0, True)
        assert earned == math.floor(exact)
        shares = category_rules.earned_per_line(earned, paid, terms)
        assert sum(shares) == earned
        for share, (amount, percent, _) in zip(shares, lines, strict=True):
            if amount == 0 or percent == 0:
                assert share == 0

    @given(
        st.lists(
            st.tuples(st.integers(1, 10**9), st.integers(0, 10**9), st.booleans()),
            min_size=1,
            max_size=30,
        ),
        st.integers(0, 10**6),
    )
    def test_spent_points_land_only_on_lines_points_may_pay_for(
        self, lines: list[tuple[int, int, bool]], spend: int
    ) -> None:
        totals = [total for total, _, _ in lines]
        discounts = [min(discount, total) for total, discount, _ in lines]
        terms = [LineTerms(Decimal(5), allowed) for _, _, allowed in lines]
        shares = category_rules.spent_per_line(spend, discounts, totals, terms)
        assert sum(shares) == spend
        if any(term.spend_allowed for term in terms):
            for share, term in zip(shares, terms, strict=True):
                assert term.spend_allowed or share == 0
