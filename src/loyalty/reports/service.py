"""Reports for the merchant: points liability, daily figures per store, tier distribution.

Days are calendar days in UTC: accounts carry no time zone yet.

The daily report reads closed days from their rollup (`roll_up`, run by `loyalty report
rollup`) and the rest from the sales, returns and ledger themselves, so it is exact whether or
not the rollup ran. A day is closed, and its figures final, once nothing can be written into it:
sales and returns are dated by the database clock when their transaction starts (a request lives
a few seconds at most), and an expiry by its lot's `expires_at`, fixed when the lot is created.
No lot is created already expired (a refund whose expiry has passed is recorded expired at
once), and an expired lot is frozen until its expiry is posted, which moves exactly what it
held to the `expired` bucket, dated `expires_at`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.money import POINT_VALUE_MINOR
from loyalty.models.report import DAILY_FIGURES
from loyalty.reports import repository
from loyalty.reports.errors import InvalidReportPeriod, ReportAccountNotFound
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
# A day is rolled up this long after it ended: every transaction dated in it is over by then.
CLOSE_AFTER = timedelta(minutes=10)
# Days rolled up per statement, so a first rollup of a long history keeps statements short.
ROLLUP_CHUNK_DAYS = 31


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


DAILY_ROWS = TypeAdapter(list[DailyRow])
# Wire names of the figures, in the column order of both daily statements (DAILY_FIGURES).
FIGURE_FIELDS = tuple(
    "".join(part if index == 0 else part.title() for index, part in enumerate(name.split("_")))
    for name in DAILY_FIGURES
)


async def daily(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    date_from: date,
    date_to: date,
    retail_store_id: str | None,
    now: datetime,
) -> DailyReport:
    period_bounds(date_from, date_to)
    through = await repository.rolled_up_through(session, account_id)
    rows: list[Any] = []
    if through is not None and date_from <= through:
        rows += await repository.rolled_up(
            session,
            account_id,
            first_day=date_from,
            last_day=min(date_to, through),
            retail_store_id=retail_store_id,
        )
    live_from = date_from if through is None else max(date_from, through + timedelta(days=1))
    if live_from <= date_to:
        start, end = period_bounds(live_from, date_to)
        rows += await repository.daily(
            session,
            account_id,
            start=start,
            end=end,
            timezone=REPORT_TIMEZONE,
            retail_store_id=retail_store_id,
            now=now,
        )
    # Rows are (day, store, *figures). A year of days and stores is thousands of rows: they are
    # validated in one call, which costs a fraction of building each model in Python.
    figures = [tuple(map(int, row[2:])) for row in rows]
    names = await repository.store_names(session, account_id, {row[1] for row in rows if row[1]})
    items = DAILY_ROWS.validate_python(
        [
            {"day": row[0], "retailStoreId": row[1], "retailStoreName": names.get(row[1])}
            | dict(zip(FIGURE_FIELDS, values, strict=True))
            for row, values in zip(rows, figures, strict=True)
        ]
    )
    sums = [sum(column) for column in zip(*figures, strict=True)] or [0] * len(FIGURE_FIELDS)
    totals = DailyFigures(**dict(zip(FIGURE_FIELDS, sums, strict=True)))
    return DailyReport(
        dateFrom=date_from,
        dateTo=date_to,
        timezone=REPORT_TIMEZONE,
        retailStoreId=retail_store_id,
        items=items,
        totals=totals,
    )


@dataclass(frozen=True)
class Rollup:
    account_id: uuid.UUID
    through_day: date
    days_added: int


async def roll_up(session: AsyncSession, account_id: uuid.UUID, now: datetime) -> Rollup:
    """Roll up the account's closed days not rolled up yet; concurrent runs wait on the mark."""
    closed_through = (now - CLOSE_AFTER).astimezone(UTC).date() - timedelta(days=1)
    through = await repository.lock_rollup(session, account_id, REPORT_TIMEZONE)
    if through is None:
        raise ReportAccountNotFound(str(account_id))
    first = through + timedelta(days=1)
    added = 0
    while first <= closed_through:
        last = min(first + timedelta(days=ROLLUP_CHUNK_DAYS - 1), closed_through)
        start = datetime.combine(first, time.min, UTC)
        await repository.roll_up(
            session,
            account_id,
            start=start,
            end=datetime.combine(last + timedelta(days=1), time.min, UTC),
            through_day=last,
            timezone=REPORT_TIMEZONE,
            now=now,
        )
        added += (last - first).days + 1
        through, first = last, last + timedelta(days=1)
    return Rollup(account_id, through, added)


async def account_ids(session: AsyncSession) -> list[uuid.UUID]:
    return await repository.account_ids(session)


async def tiers(session: AsyncSession, account_id: uuid.UUID) -> TierReport:
    rows = await repository.tier_distribution(session, account_id)
    return TierReport(items=[TierRow(tier=row.tier, customers=int(row.customers)) for row in rows])
