"""Exact money and points arithmetic. No floats: Decimal on the wire, integer minor units inside.

Conventions where MoySklad is silent (spec §1.8): a line sum is quantity × price rounded to
the kopeck half up, as on Russian fiscal receipts; one point is worth one rouble.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

KOPECKS_PER_ROUBLE = 100
POINT_VALUE_MINOR = 100  # one point pays one rouble

KOPECK = Decimal("0.01")
QUANTITY_STEP = Decimal("0.001")
PERCENT_STEP = Decimal("0.01")
HUNDRED = Decimal(100)


def roubles_to_minor(amount: Decimal) -> int:
    """Roubles with at most 2 decimals to kopecks; callers validate the scale first."""
    return int((amount * KOPECKS_PER_ROUBLE).to_integral_value(rounding=ROUND_HALF_UP))


def minor_to_roubles(amount_minor: int) -> Decimal:
    return (Decimal(amount_minor) / KOPECKS_PER_ROUBLE).quantize(KOPECK)


def line_sum_minor(quantity: Decimal, price_minor: int) -> int:
    """round_half_up(quantity × price) in kopecks."""
    return int((quantity * price_minor).to_integral_value(rounding=ROUND_HALF_UP))


def percent_of_minor_floor_points(amount_minor: int, percent: Decimal) -> int:
    """Whole points worth `percent` % of a kopeck amount, rounded down (points are whole)."""
    if amount_minor <= 0 or percent <= 0:
        return 0
    points = Decimal(amount_minor) * percent / (HUNDRED * POINT_VALUE_MINOR)
    return int(points.to_integral_value(rounding=ROUND_FLOOR))


def discount_percent(price_minor: int, discounted_price_minor: int) -> Decimal:
    """(price − discounted) / price × 100, two decimals, half up; 0 for a zero price."""
    if price_minor <= 0:
        return Decimal("0.00")
    percent = Decimal(price_minor - discounted_price_minor) * HUNDRED / Decimal(price_minor)
    return percent.quantize(PERCENT_STEP, rounding=ROUND_HALF_UP)


def allocate_proportionally(total: int, weights: list[int]) -> list[int]:
    """Split a non-negative integer total in proportion to non-negative weights, exactly.

    Largest-remainder method: every share is floor(total × w / Σw) plus at most one unit,
    the extra units going to the largest remainders (earliest index on ties), so the
    shares always sum to `total` and no share exceeds its proportional ceiling.
    """
    if total < 0:
        raise ValueError("total must be non-negative")
    weight_sum = sum(weights)
    if total == 0 or not weights:
        return [0] * len(weights)
    if weight_sum <= 0:
        raise ValueError("cannot allocate a positive total over zero weights")
    shares = [total * weight // weight_sum for weight in weights]
    remainders = [total * weight % weight_sum for weight in weights]
    missing = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda index: (-remainders[index], index))
    for index in order[:missing]:
        shares[index] += 1
    return shares


def has_at_most_decimals(value: Decimal, places: int) -> bool:
    """True when `value` needs at most `places` digits after the point (trailing zeros do not
    count). Read off the digits, not quantized: exact for any finite Decimal, however large,
    where quantize would raise InvalidOperation beyond the context precision."""
    if not value.is_finite():
        return False
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        return False
    if exponent >= -places:
        return True  # the common spelling (12.50, 3, 1.000): no digit to count
    if not any(digits):
        return True  # zero, whatever its spelling (0E-9, -0.000)
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return exponent + trailing_zeros >= -places
