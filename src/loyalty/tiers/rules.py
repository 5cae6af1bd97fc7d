"""Pure tier rules: the window of months, which tier a total reaches, the receipt line. No I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from loyalty.common.money import minor_to_roubles
from loyalty.tiers.schemas import Standing, Tier


def month_of(moment: datetime) -> date:
    """The calendar month (UTC) a purchase counts in, as its first day."""
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def window_start(now: datetime, window_months: int) -> date:
    """The first month counted: the current month and the `window_months - 1` before it."""
    return add_months(month_of(now), -(window_months - 1))


def review_at(oldest_counted_month: date | None, window_months: int) -> datetime | None:
    """When the oldest counted month leaves the window, so the total (and tier) may drop."""
    if oldest_counted_month is None:
        return None
    leaves = add_months(oldest_counted_month, window_months)
    return datetime(leaves.year, leaves.month, 1, tzinfo=UTC)


def standing(tiers: tuple[Tier, ...], window_total_minor: int) -> Standing:
    """The highest tier whose threshold the total reaches; tiers are sorted by threshold."""
    total = max(0, window_total_minor)
    reached: Tier | None = None
    following: Tier | None = None
    for tier in tiers:
        if tier.threshold_minor <= total:
            reached = tier
        else:
            following = tier
            break
    return Standing(total, reached, following)


def roubles_text(amount_minor: int) -> str:
    """1250 roubles → «1 250,00 ₽» (Russian grouping and decimal comma)."""
    value: Decimal = minor_to_roubles(amount_minor)
    return f"{value:,.2f}".replace(",", " ").replace(".", ",") + " ₽"


def receipt_line(current: Standing) -> str:
    parts: list[str] = []
    if current.tier is not None:
        parts.append(f"Уровень «{current.tier.name}».")
    if current.next_tier is not None:
        gap = current.next_tier.threshold_minor - current.window_total_minor
        parts.append(f"До уровня «{current.next_tier.name}» осталось {roubles_text(gap)}")
    return " ".join(parts)
