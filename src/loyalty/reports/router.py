"""Reports for operators (mounted under /api/v1): JSON, or CSV with `?format=csv`.

The read-only role is enough. CSV layout: `reports.csv_format`; figures: docs/reports.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from loyalty.common.dependencies import NowDep
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import ReadOnlyOperator
from loyalty.reports import csv_format, service
from loyalty.reports.schemas import DailyReport, LiabilityReport, TierReport

router = APIRouter(prefix="/reports", tags=["reports (operator API)"])

Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _csv(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type=csv_format.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get(
    "/liability",
    response_model=LiabilityReport,
    responses=CSV_RESPONSE,
    summary="Обязательства программы: баллы, сгорание, подарочные сертификаты",
)
async def liability(
    session: SessionDep, operator: ReadOnlyOperator, now: NowDep, format: Format = "json"
) -> Any:
    report = await service.liability(session, operator.account_id, now)
    if format == "csv":
        return _csv(csv_format.liability(report), f"liability-{now:%Y-%m-%d}")
    return report


@router.get(
    "/daily",
    response_model=DailyReport,
    responses=CSV_RESPONSE,
    summary="Баллы и продажи по точкам и дням",
)
async def daily(
    session: SessionDep,
    operator: ReadOnlyOperator,
    now: NowDep,
    date_from: Annotated[date, Query(alias="from", description="First day, YYYY-MM-DD")],
    date_to: Annotated[date, Query(alias="to", description="Last day, inclusive")],
    retail_store_id: Annotated[
        str | None, Query(alias="retailStoreId", min_length=1, max_length=64)
    ] = None,
    format: Format = "json",
) -> Any:
    report = await service.daily(
        session,
        operator.account_id,
        date_from=date_from,
        date_to=date_to,
        retail_store_id=retail_store_id,
        now=now,
    )
    if format == "csv":
        return _csv(csv_format.daily(report), f"daily-{date_from}-{date_to}")
    return report


@router.get(
    "/tiers",
    response_model=TierReport,
    responses=CSV_RESPONSE,
    summary="Распределение клиентов по уровням",
)
async def tiers(session: SessionDep, operator: ReadOnlyOperator, format: Format = "json") -> Any:
    report = await service.tiers(session, operator.account_id)
    if format == "csv":
        return _csv(csv_format.tiers(report), "tiers")
    return report
