"""Reports as CSV for a Russian-locale Excel: semicolon-separated, UTF-8 with a byte order mark
(without it Excel reads the file as Windows-1251), CRLF line ends. Points and kopecks are
integers, dates ISO 8601, an empty cell is "no value" (the null store of expiries)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from loyalty.reports.schemas import DailyReport, LiabilityReport, TierReport

MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"

DAILY_COLUMNS = (
    "day",
    "retail_store_id",
    "retail_store_name",
    "earned_points",
    "spent_points",
    "reversed_earned_points",
    "reversed_spent_points",
    "expired_points",
    "sales_with_program_count",
    "sales_with_program_minor",
    "sales_without_program_count",
    "sales_without_program_minor",
    "returns_count",
    "returns_minor",
)


def to_bytes(header: Iterable[str], rows: Iterable[Iterable[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return (BOM + buffer.getvalue()).encode("utf-8")


def liability(report: LiabilityReport) -> bytes:
    header = [
        "as_of",
        "available_points",
        "available_value_minor",
        "pending_points",
        "pending_value_minor",
        "debt_points",
    ]
    row: list[object] = [
        report.asOf.isoformat(),
        report.availablePoints,
        report.availableValueMinor,
        report.pendingPoints,
        report.pendingValueMinor,
        report.debtPoints,
    ]
    for window in report.expiring:
        header += [
            f"expiring_{window.withinDays}_days_points",
            f"expiring_{window.withinDays}_days_value_minor",
        ]
        row += [window.points, window.valueMinor]
    header += ["gift_certificates_count", "gift_certificates_balance_minor"]
    row += [report.giftCertificates.count, report.giftCertificates.balanceMinor]
    return to_bytes(header, [row])


def daily(report: DailyReport) -> bytes:
    return to_bytes(
        DAILY_COLUMNS,
        (
            [
                item.day.isoformat(),
                item.retailStoreId,
                item.retailStoreName,
                item.earnedPoints,
                item.spentPoints,
                item.reversedEarnedPoints,
                item.reversedSpentPoints,
                item.expiredPoints,
                item.salesWithProgramCount,
                item.salesWithProgramMinor,
                item.salesWithoutProgramCount,
                item.salesWithoutProgramMinor,
                item.returnsCount,
                item.returnsMinor,
            ]
            for item in report.items
        ),
    )


def tiers(report: TierReport) -> bytes:
    return to_bytes(("tier", "customers"), ([item.tier, item.customers] for item in report.items))
