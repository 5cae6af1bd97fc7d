"""Pure receipt pricing: caps, earning, and spreading a discount over positions to the kopeck.

No I/O and no clock. Amounts are integer kopecks, quantities Decimal with 3 decimals.

The discount rule (spec §1.5): Σ round(quantity × discountedPrice) must equal
Σ round(quantity × price) − discount exactly. Prices are whole kopecks, so a position can
only reach certain sums; one position may be split in two to hit the total exactly. We split
at most one, and only when no position can absorb the rounding remainder on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from loyalty.common.money import (
    POINT_VALUE_MINOR,
    QUANTITY_STEP,
    allocate_proportionally,
    discount_percent,
    line_sum_minor,
    percent_of_minor_floor_points,
)


class PricingError(ValueError):
    """No exact distribution exists (cannot happen for valid receipts; guarded by tests)."""


@dataclass(frozen=True)
class PricingLine:
    quantity: Decimal
    price_minor: int
    serial_count: int = 0

    @property
    def total_minor(self) -> int:
        return line_sum_minor(self.quantity, self.price_minor)


@dataclass(frozen=True)
class PricedLine:
    """An output position. `serial_start:serial_end` slices the source position's `sn`."""

    source_index: int
    quantity: Decimal
    price_minor: int
    discounted_price_minor: int
    serial_start: int
    serial_end: int

    @property
    def total_minor(self) -> int:
        return line_sum_minor(self.quantity, self.price_minor)

    @property
    def paid_minor(self) -> int:
        return line_sum_minor(self.quantity, self.discounted_price_minor)

    @property
    def discount_percent(self) -> Decimal:
        return discount_percent(self.price_minor, self.discounted_price_minor)


def receipt_total_minor(lines: list[PricingLine]) -> int:
    return sum(line.total_minor for line in lines)


def spend_cap_points(total_minor: int, max_spend_percent: Decimal) -> int:
    """The most points the program lets this receipt take: `max_spend_percent` of it, whole."""
    return percent_of_minor_floor_points(total_minor, max_spend_percent)


def max_spendable_points(
    total_minor: int, available_points: int, max_spend_percent: Decimal
) -> int:
    """Whole points: at most the balance and at most the program's cap for the receipt."""
    return max(0, min(available_points, spend_cap_points(total_minor, max_spend_percent)))


def points_to_spend(
    total_minor: int,
    available_points: int,
    max_spend_percent: Decimal,
    preferred_points: Decimal | None,
) -> int:
    """min(balance, cap, preference); no preference means the maximum (spec §1.5)."""
    limit = max_spendable_points(total_minor, available_points, max_spend_percent)
    if preferred_points is None:
        return limit
    preferred_whole = int(preferred_points.to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(limit, preferred_whole))


def points_to_earn(
    paid_minor: int, earn_percent: Decimal, spent_points: int, earn_on_spend: bool
) -> int:
    """Earn on the part paid with money, rounded down; nothing when spending and the program
    does not earn while redeeming."""
    if spent_points > 0 and not earn_on_spend:
        return 0
    return percent_of_minor_floor_points(paid_minor, earn_percent)


def spend_discount_minor(points: int) -> int:
    return points * POINT_VALUE_MINOR


def unchanged(lines: list[PricingLine]) -> list[PricedLine]:
    return [
        PricedLine(index, line.quantity, line.price_minor, line.price_minor, 0, line.serial_count)
        for index, line in enumerate(lines)
    ]


def apply_discount(lines: list[PricingLine], discount_minor: int) -> list[PricedLine]:
    """Spread `discount_minor` over the lines so the discounted sums are exact to the kopeck."""
    totals = [line.total_minor for line in lines]
    receipt_total = sum(totals)
    if discount_minor < 0 or discount_minor > receipt_total:
        raise PricingError("discount outside [0, receipt total]")
    if discount_minor == 0:
        return unchanged(lines)
    targets = [
        total - share
        for total, share in zip(
            totals, allocate_proportionally(discount_minor, totals), strict=True
        )
    ]
    prices = [_nearest_price(line, target) for line, target in zip(lines, targets, strict=True)]
    achieved = [
        line_sum_minor(line.quantity, price) for line, price in zip(lines, prices, strict=True)
    ]
    residual = sum(targets) - sum(achieved)
    split_index: int | None = None
    split_parts: list[tuple[Decimal, int]] = []
    if residual:
        split_index, split_parts = _absorb(lines, prices, achieved, residual)
    prices = [
        _highest_price_for_sum(line, price) for line, price in zip(lines, prices, strict=True)
    ]
    return _assemble(lines, prices, split_index, split_parts)


def _highest_price_for_sum(line: PricingLine, price_minor: int) -> int:
    """Among unit prices giving the same rounded line sum, the highest: the smallest visible
    discount (a 0.001 kg line that took no discount must not show 100 % off)."""
    target = line_sum_minor(line.quantity, price_minor)
    # round_half_up(q·u) == target  ⇔  q·u < target + ½, so u < (target + ½) / q.
    bound = (Decimal(target) + Decimal("0.5")) / line.quantity
    highest = int(bound.to_integral_value(rounding=ROUND_FLOOR))
    if highest == bound:
        highest -= 1
    highest = min(highest, line.price_minor)
    return highest if line_sum_minor(line.quantity, highest) == target else price_minor


def _price_range_for(line: PricingLine, target_minor: int) -> int:
    """floor(target / quantity) clamped to [0, price]: the highest unit price not above target."""
    unit = int((Decimal(target_minor) / line.quantity).to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(unit, line.price_minor))


def _nearest_price(line: PricingLine, target_minor: int) -> int:
    low = _price_range_for(line, target_minor)
    candidates = [price for price in (low - 1, low, low + 1) if 0 <= price <= line.price_minor]
    return min(
        candidates,
        key=lambda price: (abs(line_sum_minor(line.quantity, price) - target_minor), price),
    )


def _exact_price(line: PricingLine, target_minor: int) -> int | None:
    """A single unit price whose rounded line sum is exactly `target_minor`, if one exists."""
    low = _price_range_for(line, target_minor)
    for price in (low, low + 1, low - 1):
        if 0 <= price <= line.price_minor and line_sum_minor(line.quantity, price) == target_minor:
            return price
    return None


def _split_for(line: PricingLine, target_minor: int) -> list[tuple[Decimal, int]] | None:
    """Two parts (quantity, unit price) with prices u and u+1 whose sums add up to `target_minor`.

    With u = floor(target / q) and q₁ = target − q·u (a multiple of 0.001), q₁·(u+1) + (q−q₁)·u
    equals the target before rounding; when both halves round up at .5 we step q₁ a little.
    """
    if not 0 <= target_minor <= line.total_minor:
        return None
    quantity = line.quantity
    unit = _price_range_for(line, target_minor)
    if unit >= line.price_minor:
        return None
    ideal = Decimal(target_minor) - quantity * unit
    whole_units_only = line.serial_count > 0 and line.serial_count == quantity
    step = Decimal(1) if whole_units_only else QUANTITY_STEP
    for offset in (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5):
        upper_quantity = ideal + step * offset
        if whole_units_only and upper_quantity != upper_quantity.to_integral_value():
            continue
        lower_quantity = quantity - upper_quantity
        if upper_quantity <= 0 or lower_quantity <= 0:
            continue
        total = line_sum_minor(upper_quantity, unit + 1) + line_sum_minor(lower_quantity, unit)
        if total == target_minor:
            return [(lower_quantity, unit), (upper_quantity, unit + 1)]
    return None


def _absorb(
    lines: list[PricingLine], prices: list[int], achieved: list[int], residual: int
) -> tuple[int | None, list[tuple[Decimal, int]]]:
    """Move the rounding remainder into one line: without a split if any line can take it
    exactly, otherwise by splitting the line that disturbs the receipt least."""
    by_size = sorted(range(len(lines)), key=lambda index: (-lines[index].total_minor, index))
    for index in by_size:
        exact = _exact_price(lines[index], achieved[index] + residual)
        if exact is not None:
            prices[index] = exact
            achieved[index] += residual
            return None, []

    def split_preference(index: int) -> tuple[int, int, int]:
        line = lines[index]
        serial_rank = (
            0 if line.serial_count == 0 else (1 if line.serial_count == line.quantity else 2)
        )
        return (serial_rank, -line.total_minor, index)

    for index in sorted(range(len(lines)), key=split_preference):
        parts = _split_for(lines[index], achieved[index] + residual)
        if parts is not None:
            return index, parts
    # Several lines must share the remainder: move what each can take exactly, then split one.
    for index in by_size:
        if residual == 0:
            break
        line = lines[index]
        wanted = min(max(achieved[index] + residual, 0), line.total_minor)
        direction = 1 if wanted > achieved[index] else -1
        for candidate in range(wanted, achieved[index], -direction):
            exact = _exact_price(line, candidate)
            if exact is not None:
                residual -= candidate - achieved[index]
                prices[index], achieved[index] = exact, candidate
                break
    if residual == 0:
        return None, []
    for index in sorted(range(len(lines)), key=split_preference):
        parts = _split_for(lines[index], achieved[index] + residual)
        if parts is not None:
            return index, parts
    raise PricingError("the discount cannot be spread exactly over this receipt")


def _assemble(
    lines: list[PricingLine],
    prices: list[int],
    split_index: int | None,
    split_parts: list[tuple[Decimal, int]],
) -> list[PricedLine]:
    priced: list[PricedLine] = []
    for index, line in enumerate(lines):
        if index != split_index:
            priced.append(
                PricedLine(
                    index, line.quantity, line.price_minor, prices[index], 0, line.serial_count
                )
            )
            continue
        parts = sorted(split_parts, key=lambda part: -part[0])
        serials_follow_quantity = line.serial_count > 0 and line.serial_count == line.quantity
        serial_cursor = 0
        for position, (quantity, price) in enumerate(parts):
            if serials_follow_quantity:
                start, end = serial_cursor, serial_cursor + int(quantity)
                serial_cursor = end
            else:
                # Serial numbers that never matched the quantity stay together on the first part.
                start, end = (
                    (0, line.serial_count)
                    if position == 0
                    else (line.serial_count, line.serial_count)
                )
            priced.append(PricedLine(index, quantity, line.price_minor, price, start, end))
    return priced
