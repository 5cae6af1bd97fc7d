"""Pure per-line earning and spending under category rules. No I/O.

Precedence for a line: a rule on its product (or the variant's product), then on the nearest
product folder up the tree, then the customer's tier, then the program. The most specific rule
applies whole: a product rule with its own percent lifts a folder's exclusion.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from loyalty.category_rules.schemas import Effect, LineTerms
from loyalty.common.money import HUNDRED, POINT_VALUE_MINOR, allocate_proportionally

_NO_EARNING = Decimal(0)


def line_terms(effect: Effect | None, base_earn_percent: Decimal) -> LineTerms:
    if effect is None:
        return LineTerms(base_earn_percent)
    if effect.no_earn:
        percent = _NO_EARNING
    elif effect.earn_percent is not None:
        percent = effect.earn_percent
    else:
        percent = base_earn_percent
    return LineTerms(percent, spend_allowed=not effect.no_spend)


def _weight(paid_minor: int, terms: LineTerms) -> int:
    # Percents have two decimals, so paid × percent × 100 is a whole number.
    return max(paid_minor, 0) * int(terms.earn_percent * HUNDRED)


def points_to_earn(
    paid_minor_per_line: list[int],
    terms: list[LineTerms],
    spent_points: int,
    earn_on_spend: bool,
) -> int:
    """Σ paid × percent over the lines, rounded down once: with one percent for every line this
    is exactly the receipt-level rule (pricing.points_to_earn)."""
    if spent_points > 0 and not earn_on_spend:
        return 0
    weighted = sum(
        _weight(paid, line) for paid, line in zip(paid_minor_per_line, terms, strict=True)
    )
    points = Decimal(weighted) / (HUNDRED * HUNDRED * POINT_VALUE_MINOR)
    return int(points.to_integral_value(rounding=ROUND_FLOOR))


def earned_per_line(
    earn_points: int, paid_minor_per_line: list[int], terms: list[LineTerms]
) -> list[int]:
    """Each line's share of the earned points, by what it earned: returns reverse exactly that."""
    weights = [_weight(paid, line) for paid, line in zip(paid_minor_per_line, terms, strict=True)]
    if earn_points == 0 or sum(weights) == 0:
        return [0] * len(weights)
    return allocate_proportionally(earn_points, weights)


def spend_base_minor(total_minor_per_line: list[int], terms: list[LineTerms]) -> int:
    """The part of the receipt points may pay for."""
    return sum(
        total for total, line in zip(total_minor_per_line, terms, strict=True) if line.spend_allowed
    )


def spent_per_line(
    spend_points: int,
    discount_minor_per_line: list[int],
    total_minor_per_line: list[int],
    terms: list[LineTerms],
) -> list[int]:
    """Spent points go to the lines points may pay for, by their discount (else their sum)."""
    if spend_points == 0:
        return [0] * len(terms)
    for weights in (discount_minor_per_line, total_minor_per_line):
        eligible = [
            weight if line.spend_allowed else 0 for weight, line in zip(weights, terms, strict=True)
        ]
        if sum(eligible) > 0:
            return allocate_proportionally(spend_points, eligible)
    return allocate_proportionally(
        spend_points, [max(weight, 0) for weight in total_minor_per_line]
    )
