"""`loyalty report …`: the operator API's reports from the command line (JSON, or `--csv`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.common.clock import Clock
from loyalty.reports import csv_format, service

ACCOUNT = click.option("--account", "account_id", required=True, help="Account UUID.")
CSV = click.option("--csv", "as_csv", is_flag=True, help="CSV for Excel instead of JSON.")


def _day(value: datetime) -> date:
    return value.date()


def _write_csv(content: bytes) -> None:
    click.echo(content, nl=False)


@click.group("report")
def report_group() -> None:
    """Reports: points liability, daily figures per store, tiers; the daily rollup."""


@report_group.command("liability")
@ACCOUNT
@CSV
def liability(account_id: str, as_csv: bool) -> None:
    """Outstanding points and their value, points expiring soon, gift certificate balances."""
    account = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        report = await service.liability(session, account, Clock().now())
        if as_csv:
            _write_csv(csv_format.liability(report))
        else:
            emit(report.model_dump(mode="json"))

    run_in_transaction(work)


@report_group.command("daily")
@ACCOUNT
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--retail-store-id", default=None, help="Only this MoySklad retail store.")
@CSV
def daily(
    account_id: str,
    date_from: datetime,
    date_to: datetime,
    retail_store_id: str | None,
    as_csv: bool,
) -> None:
    """Points earned, spent, reversed and expired, and sales, per store and day (UTC)."""
    account = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        report = await service.daily(
            session,
            account,
            date_from=_day(date_from),
            date_to=_day(date_to),
            retail_store_id=retail_store_id,
            now=Clock().now(),
        )
        if as_csv:
            _write_csv(csv_format.daily(report))
        else:
            emit(report.model_dump(mode="json"))

    run_in_transaction(work)


@report_group.command("rollup")
@click.option("--account", "account_id", default=None, help="Account UUID (default: all).")
def rollup(account_id: str | None) -> None:
    """Roll up the closed days of the daily report (run it hourly, e.g. from cron)."""
    account = parse_uuid(account_id) if account_id else None

    async def accounts(session: AsyncSession) -> list[uuid.UUID]:
        return [account] if account else await service.account_ids(session)

    def one(account_uuid: uuid.UUID) -> dict[str, object]:
        async def work(session: AsyncSession) -> dict[str, object]:
            result = await service.roll_up(session, account_uuid, Clock().now())
            return {
                "account_id": str(result.account_id),
                "through_day": result.through_day.isoformat(),
                "days_added": result.days_added,
            }

        # One transaction per account: a long first rollup never holds the others back.
        return run_in_transaction(work)

    emit([one(account_uuid) for account_uuid in run_in_transaction(accounts)])


@report_group.command("tiers")
@ACCOUNT
@CSV
def tiers(account_id: str, as_csv: bool) -> None:
    """Customers per tier."""
    account = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        report = await service.tiers(session, account)
        if as_csv:
            _write_csv(csv_format.tiers(report))
        else:
            emit(report.model_dump(mode="json"))

    run_in_transaction(work)
