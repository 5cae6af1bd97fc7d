"""Reports for the merchant: points liability, daily figures per store, tier distribution.

Read-only. Days are calendar days in UTC: accounts carry no time zone yet.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.money import POINT_VALUE_MINOR
from loyalty.reports import repository
from loyalty.reports.errors import InvalidReportPeriod
from loyalty.reports.schemas import (
    DailyFigures,
    DailyReport,
    DailyRow,
    ExpiringPoints,
    GiftCertificates,
    LiabilityReport,
    TierReport,
    TierRow,
)

REPORT_TIMEZONE = "UTC"
EXPIRY_WINDOWS_DAYS = (30, 60, 90)
# One request reads at most a year of days; longer periods are asked for in parts.
MAX_PERIOD_DAYS = 366


def points_value_minor(points: int) -> int:
    return points * POINT_VALUE_MINOR


async def liability(session: AsyncSession, account_id: uuid.UUID, now: datetime) -> LiabilityReport:
    until = {days: now + timedelta(days=days) for days in EXPIRY_WINDOWS_DAYS}
    figures = await repository.liability(session, account_id, now, until)
    return LiabilityReport(
        asOf=now,
        pointValueMinor=POINT_VALUE_MINOR,
        availablePoints=figures.available_points,
        availableValueMinor=points_value_minor(figures.available_points),
        pendingPoints=figures.pending_points,
        pendingValueMinor=points_value_minor(figures.pending_points),
        debtPoints=figures.debt_points,
        expiring=[
            ExpiringPoints(
                withinDays=days,
                points=figures.expiring_points[days],
                valueMinor=points_value_minor(figures.expiring_points[days]),
            )
            for days in EXPIRY_WINDOWS_DAYS
        ],
        giftCertificates=GiftCertificates(
            count=figures.certificate_count, balanceMinor=figures.certificate_balance_minor
        ),
    )


def period_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start of `date_from`, start of the day after `date_to`) in the report time zone."""
    if date_from > date_to:
        raise InvalidReportPeriod(
            f"Дата начала периода ({date_from:%d.%m.%Y}) позже даты окончания ({date_to:%d.%m.%Y})",
            parameter="from",
        )
    days = (date_to - date_from).days + 1
    if days > MAX_PERIOD_DAYS:
        raise InvalidReportPeriod(
            f"Период отчёта — не больше {MAX_PERIOD_DAYS} дней, а запрошено {days}",
            parameter="to",
        )
    start = datetime.combine(date_from, time.min, UTC)
    return start, start + timedelta(days=days)


FIGURE_COLUMNS = {
    "earnedPoints": "earned_points",
    "spentPoints": "spent_points",
    "reversedEarnedPoints": "reversed_earned_points",
    "reversedSpentPoints": "reversed_spent_points",
    "expiredPoints": "expired_points",
    "salesWithProgramCount": "with_program_count",
    "salesWithProgramMinor": "with_program_minor",
    "salesWithoutProgramCount": "without_program_count",
    "salesWithoutProgramMinor": "without_program_minor",
    "returnsCount": "returns_count",
    "returnsMinor": "returns_minor",
}


async def daily(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    date_from: date,
    date_to: date,
    retail_store_id: str | None,
    now: datetime,
) -> DailyReport:
    start, end = period_bounds(date_from, date_to)
    rows = await repository.daily(
        session,
        account_id,
        start=start,
        end=end,
        timezone=REPORT_TIMEZONE,
        retail_store_id=retail_store_id,
        now=now,
    )
    items = [
        DailyRow(
            day=row.day,
            retailStoreId=row.retail_store_id,
            **{field: int(getattr(row, column)) for field, column in FIGURE_COLUMNS.items()},
        )
        for row in rows
    ]
    totals = DailyFigures(
        **{field: sum(getattr(item, field) for item in items) for field in FIGURE_COLUMNS}
    )
    return DailyReport(
        dateFrom=date_from,
        dateTo=date_to,
        timezone=REPORT_TIMEZONE,
        retailStoreId=retail_store_id,
        items=items,
        totals=totals,
    )


async def tiers(session: AsyncSession, account_id: uuid.UUID) -> TierReport:
    rows = await repository.tier_distribution(session, account_id)
    return TierReport(items=[TierRow(tier=row.tier, customers=int(row.customers)) for row in rows])
