"""Report bodies of the operator API. Points are whole numbers; money is integer kopecks."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class ExpiringPoints(BaseModel):
    withinDays: int
    points: int
    valueMinor: int


class GiftCertificates(BaseModel):
    count: int
    balanceMinor: int


class LiabilityReport(BaseModel):
    asOf: datetime
    pointValueMinor: int
    availablePoints: int
    availableValueMinor: int
    pendingPoints: int
    pendingValueMinor: int
    debtPoints: int
    expiring: list[ExpiringPoints]
    giftCertificates: GiftCertificates


class DailyFigures(BaseModel):
    earnedPoints: int = 0
    spentPoints: int = 0
    reversedEarnedPoints: int = 0
    reversedSpentPoints: int = 0
    expiredPoints: int = 0
    salesWithProgramCount: int = 0
    salesWithProgramMinor: int = 0
    salesWithoutProgramCount: int = 0
    salesWithoutProgramMinor: int = 0
    returnsCount: int = 0
    returnsMinor: int = 0


class DailyRow(DailyFigures):
    day: date
    # None for expiries, which belong to no store.
    retailStoreId: str | None
    # From the synced MoySklad catalogue; None until the store is synced.
    retailStoreName: str | None = None


class DailyReport(BaseModel):
    dateFrom: date
    dateTo: date
    timezone: str
    retailStoreId: str | None
    items: list[DailyRow]
    totals: DailyFigures


class TierRow(BaseModel):
    tier: str
    customers: int


class TierReport(BaseModel):
    items: list[TierRow]
