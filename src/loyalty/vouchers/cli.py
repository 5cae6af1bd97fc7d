"""`loyalty vouchers …`: batches, bulk generation, CSV import/export, look-up, lifecycle."""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.common.clock import Clock
from loyalty.common.errors import InvalidRequest
from loyalty.operators.cli import cli_actor
from loyalty.vouchers import codes, csv_format, rules, service
from loyalty.vouchers.errors import VoucherNotFound
from loyalty.vouchers.schemas import BatchView, ExpiryType, VoucherType, VoucherView
from loyalty.vouchers.service import Actor, BatchSpec

# Bulk commands are operator work, not till requests: they may run longer than a till waits.
BULK_STATEMENT_TIMEOUT = "120s"


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise click.BadParameter(f"{name} must be a number") from exc


def _expiry(value: str | None) -> tuple[ExpiryType, datetime | None, int | None]:
    """`fixed:2026-12-31`, `dynamic:365` or none."""
    if value is None or value.lower() == "none":
        return ExpiryType.none, None, None
    kind, _, argument = value.partition(":")
    try:
        if kind.lower() == "fixed":
            moment = datetime.fromisoformat(argument)
            return ExpiryType.fixed, moment if moment.tzinfo else moment.replace(tzinfo=UTC), None
        if kind.lower() == "dynamic":
            return ExpiryType.dynamic, None, int(argument)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expiry") from exc
    raise click.BadParameter("use fixed:YYYY-MM-DD, dynamic:DAYS or none", param_hint="--expiry")


def batch_json(batch: BatchView, counts: dict[str, int] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(batch.id),
        "account_id": str(batch.account_id),
        "code": batch.code,
        "name": batch.name,
        "type": batch.voucher_type.value,
        "currency": batch.currency,
        "face_value_minor": batch.face_value_minor,
        "discount_percent": str(batch.discount_percent) if batch.discount_percent else None,
        "has_balance": batch.has_balance,
        "min_spend_minor": batch.min_spend_minor,
        "max_use_percent": str(batch.max_use_percent) if batch.max_use_percent else None,
        "uses_per_voucher": batch.uses_per_voucher,
        "usage_limit": batch.usage_limit,
        "per_customer_limit": batch.per_customer_limit,
        "used_count": batch.used_count,
        "expiry": {
            "type": batch.expiry_type.value,
            "expires_at": batch.expires_at.isoformat() if batch.expires_at else None,
            "days": batch.expiry_days,
        },
        "code_format": {
            "length": batch.code_length,
            "alphabet": batch.code_alphabet,
            "prefix": batch.code_prefix,
        },
    }
    if counts is not None:
        data["vouchers_by_status"] = counts
    return data


def voucher_json(voucher: VoucherView, now: datetime) -> dict[str, Any]:
    return {
        "id": str(voucher.id),
        "account_id": str(voucher.account_id),
        "code": voucher.code,
        "serial_number": voucher.serial_number,
        "batch": {
            "id": str(voucher.batch_id),
            "code": voucher.batch_code,
            "name": voucher.batch_name,
        },
        "type": voucher.voucher_type.value,
        "status": rules.effective_status(voucher, now).value,
        "currency": voucher.currency,
        "balance_minor": voucher.balance_minor,
        "initial_balance_minor": voucher.initial_balance_minor,
        "used_count": voucher.used_count,
        "usage_limit": voucher.usage_limit,
        "discount_percent": str(voucher.discount_percent) if voucher.discount_percent else None,
        "face_value_minor": voucher.face_value_minor,
        "customer_id": str(voucher.customer_id) if voucher.customer_id else None,
        "pin_protected": voucher.pin_protected,
        "issued_at": voucher.issued_at.isoformat() if voucher.issued_at else None,
        "expires_at": voucher.expires_at.isoformat() if voucher.expires_at else None,
        "last_used_at": voucher.last_used_at.isoformat() if voucher.last_used_at else None,
    }


@click.group("vouchers")
def vouchers_group() -> None:
    """Vouchers and gift certificates."""


@vouchers_group.group("batch")
def batch_group() -> None:
    """Voucher batches (groups)."""


@batch_group.command("create")
@click.argument("account_id")
@click.option("--name", required=True)
@click.option(
    "--type",
    "voucher_type",
    type=click.Choice([kind.value for kind in VoucherType]),
    required=True,
    help="GIFT: gift certificate (tender); DISCOUNT: percent off; CASH: amount off.",
)
@click.option("--code", default=None, help="Short batch code (voucherGroupId, voucherTypeId).")
@click.option("--currency", default="RUB", show_default=True)
@click.option("--face-value-minor", type=int, default=None, help="GIFT/CASH value in kopecks.")
@click.option("--discount-percent", default=None, help="DISCOUNT rate, e.g. 10 or 7.5.")
@click.option("--has-balance", is_flag=True, help="CASH: the value is a balance drawn down.")
@click.option("--min-spend-minor", type=int, default=0, show_default=True)
@click.option("--max-use-percent", default=None, help="Largest share of a receipt, percent.")
@click.option("--uses-per-voucher", type=int, default=None, help="Uses of each voucher.")
@click.option("--usage-limit", type=int, default=None, help="Uses across the whole batch.")
@click.option("--per-customer-limit", type=int, default=None, help="Uses per customer.")
@click.option("--expiry", default=None, help="fixed:YYYY-MM-DD, dynamic:DAYS (from issue), none.")
@click.option("--code-length", type=int, default=codes.DEFAULT_LENGTH, show_default=True)
@click.option("--code-alphabet", default=codes.DEFAULT_ALPHABET, show_default=True)
@click.option("--code-prefix", default="", help="Up to 8 characters A–Z, 0–9.")
@click.option("--note", default=None)
def batch_create(
    account_id: str,
    name: str,
    voucher_type: str,
    code: str | None,
    currency: str,
    face_value_minor: int | None,
    discount_percent: str | None,
    has_balance: bool,
    min_spend_minor: int,
    max_use_percent: str | None,
    uses_per_voucher: int | None,
    usage_limit: int | None,
    per_customer_limit: int | None,
    expiry: str | None,
    code_length: int,
    code_alphabet: str,
    code_prefix: str,
    note: str | None,
) -> None:
    """Create a batch; prints it as JSON."""
    account_uuid = parse_uuid(account_id)
    expiry_type, expires_at, expiry_days = _expiry(expiry)
    spec = BatchSpec(
        name=name,
        voucher_type=VoucherType(voucher_type),
        code=code,
        currency=currency,
        face_value_minor=face_value_minor,
        discount_percent=_decimal(discount_percent, "--discount-percent"),
        has_balance=True if has_balance else None,
        min_spend_minor=min_spend_minor,
        max_use_percent=_decimal(max_use_percent, "--max-use-percent"),
        uses_per_voucher=uses_per_voucher,
        usage_limit=usage_limit,
        per_customer_limit=per_customer_limit,
        expiry_type=expiry_type,
        expires_at=expires_at,
        expiry_days=expiry_days,
        code_format=codes.CodeFormat(code_length, code_alphabet, code_prefix),
        note=note,
    )

    async def work(session: AsyncSession) -> None:
        batch = await service.create_batch(
            session, account_id=account_uuid, spec=spec, actor=Actor(cli_actor()), now=Clock().now()
        )
        emit(batch_json(batch))

    run_in_transaction(work)


@batch_group.command("list")
@click.argument("account_id")
def batch_list(account_id: str) -> None:
    """Batches of an account."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        emit([batch_json(batch) for batch in await service.list_batches(session, account_uuid)])

    run_in_transaction(work)


@batch_group.command("show")
@click.argument("batch_id")
def batch_show(batch_id: str) -> None:
    """A batch with its voucher counts by status."""
    batch_uuid = parse_uuid(batch_id, "BATCH_ID")

    async def work(session: AsyncSession) -> None:
        batch = await service.get_batch(session, None, batch_uuid)
        emit(batch_json(batch, await service.batch_counts(session, batch)))

    run_in_transaction(work)


@vouchers_group.command("generate")
@click.argument("batch_id")
@click.option("--count", type=click.IntRange(1, service.MAX_GENERATION), required=True)
@click.option("--issue", is_flag=True, help="Issue at once (certificates get their face value).")
@click.option("--idempotency-key", default=None, help="Repeat safely: the same key generates once.")
def generate(batch_id: str, count: int, issue: bool, idempotency_key: str | None) -> None:
    """Generate COUNT unique codes for a batch in one transaction, with a progress bar."""
    batch_uuid = parse_uuid(batch_id, "BATCH_ID")
    started = time.perf_counter()

    async def work(session: AsyncSession) -> dict[str, Any]:
        await session.execute(text(f"SET LOCAL statement_timeout = '{BULK_STATEMENT_TIMEOUT}'"))
        batch = await service.get_batch(session, None, batch_uuid)
        with click.progressbar(
            length=count, label="Генерация кодов", file=sys.stderr, show_pos=True
        ) as bar:
            generation = await service.generate(
                session,
                batch=batch,
                count=count,
                issue=issue,
                idempotency_key=idempotency_key,
                actor=Actor(cli_actor()),
                now=Clock().now(),
                progress=bar.update,
            )
        return {
            "batch_id": str(generation.batch_id),
            "account_id": str(batch.account_id),
            "count": generation.count,
            "first_serial": generation.first_serial,
            "last_serial": generation.last_serial,
            "issued": generation.issued,
            "replayed": generation.replayed,
        }

    result = run_in_transaction(work)
    result["elapsed_seconds"] = round(time.perf_counter() - started, 2)
    emit(result)


@vouchers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--account", "account_id", default=None, help="Needed when batches are given by code."
)
@click.option(
    "--batch", "default_batch", default=None, help="Batch (id or code) for rows without one."
)
def import_csv(file: Path, account_id: str | None, default_batch: str | None) -> None:
    """Import vouchers from CSV (columns: code, batch, status, balance_minor, used_count,
    usage_limit, customer, valid_from, expires_at, pin, note). All rows or none."""
    account_uuid = parse_uuid(account_id, "--account") if account_id else None
    try:
        rows = csv_format.parse(file.read_text(encoding="utf-8-sig"))
    except (csv_format.CsvError, UnicodeDecodeError) as error:
        raise click.ClickException(str(error)) from error

    async def work(session: AsyncSession) -> None:
        await session.execute(text(f"SET LOCAL statement_timeout = '{BULK_STATEMENT_TIMEOUT}'"))
        result = await service.import_vouchers(
            session,
            account_id=account_uuid,
            rows=rows,
            default_batch=default_batch,
            actor=Actor(cli_actor()),
            now=Clock().now(),
        )
        emit(
            {
                "account_id": str(result.account_id),
                "created": result.created,
                "skipped_existing": result.skipped_existing,
            }
        )

    run_in_transaction(work)


@vouchers_group.command("export")
@click.argument("batch_id")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def export_csv(batch_id: str, output: Path | None) -> None:
    """Export a batch's vouchers as CSV (to stdout or --output)."""
    batch_uuid = parse_uuid(batch_id, "BATCH_ID")

    async def work(session: AsyncSession) -> str:
        await session.execute(text(f"SET LOCAL statement_timeout = '{BULK_STATEMENT_TIMEOUT}'"))
        batch = await service.get_batch(session, None, batch_uuid)
        return await service.export_batch(session, batch, Clock().now())

    content = run_in_transaction(work)
    if output is None:
        click.echo(content, nl=False)
    else:
        output.write_text(content, encoding="utf-8")


async def _one_voucher(
    session: AsyncSession, code: str, account_id: uuid.UUID | None
) -> VoucherView:
    if account_id is not None:
        return await service.require_by_code(session, account_id, code)
    found = await service.find_in_any_account(session, code)
    if not found:
        raise VoucherNotFound(code)
    if len(found) > 1:
        raise InvalidRequest(
            "Этот код есть в нескольких аккаунтах; укажите --account.", parameter="--account"
        )
    return found[0]


@vouchers_group.command("show")
@click.argument("code")
@click.option("--account", "account_id", default=None, help="When the code exists in several.")
@click.option("--movements", "movement_limit", type=int, default=20, show_default=True)
def show(code: str, account_id: str | None, movement_limit: int) -> None:
    """A voucher by code, with its latest movements."""
    account_uuid = parse_uuid(account_id, "--account") if account_id else None

    async def work(session: AsyncSession) -> None:
        now = Clock().now()
        voucher = await _one_voucher(session, code, account_uuid)
        movements = await service.voucher_movements(
            session, voucher.account_id, voucher.id, movement_limit
        )
        emit(
            voucher_json(voucher, now)
            | {
                "movements": [
                    {
                        "id": movement.id,
                        "kind": movement.kind,
                        "amount_minor": movement.amount_minor,
                        "uses_delta": movement.uses_delta,
                        "balance_after_minor": movement.balance_after_minor,
                        "sale_id": movement.sale_id,
                        "return_id": movement.return_id,
                        "retail_store_id": movement.retail_store_id,
                        "document": movement.document,
                        "actor": movement.actor,
                        "occurred_at": movement.occurred_at.isoformat(),
                    }
                    for movement in movements
                ]
            }
        )

    run_in_transaction(work)


@vouchers_group.command("issue")
@click.argument("code")
@click.option("--account", "account_id", default=None)
@click.option("--customer", default=None, help="Our id, MoySklad id, card number or phone.")
def issue(code: str, account_id: str | None, customer: str | None) -> None:
    """Issue a voucher (optionally to a customer)."""
    account_uuid = parse_uuid(account_id, "--account") if account_id else None

    async def work(session: AsyncSession) -> None:
        now = Clock().now()
        voucher = await _one_voucher(session, code, account_uuid)
        issued = await service.issue_voucher(
            session,
            account_id=voucher.account_id,
            voucher_id=voucher.id,
            customer_reference=customer,
            actor=Actor(cli_actor()),
            now=now,
        )
        emit(voucher_json(issued, now))

    run_in_transaction(work)


@vouchers_group.command("void")
@click.argument("code")
@click.option("--account", "account_id", default=None)
@click.option("--reason", default=None)
def void(code: str, account_id: str | None, reason: str | None) -> None:
    """Void a voucher; its remaining balance is written off."""
    account_uuid = parse_uuid(account_id, "--account") if account_id else None

    async def work(session: AsyncSession) -> None:
        now = Clock().now()
        voucher = await _one_voucher(session, code, account_uuid)
        voided = await service.void_voucher(
            session,
            account_id=voucher.account_id,
            voucher_id=voucher.id,
            reason=reason,
            actor=Actor(cli_actor()),
            now=now,
        )
        emit(voucher_json(voided, now))

    run_in_transaction(work)


@vouchers_group.command("expire-due")
@click.argument("account_id", required=False)
@click.option("--limit", type=int, default=1000, show_default=True)
def expire_due(account_id: str | None, limit: int) -> None:
    """Post the expiry of issued vouchers past their date (for cron; safe to run twice)."""
    account_uuid = parse_uuid(account_id) if account_id else None

    async def work(session: AsyncSession) -> None:
        expired = await service.expire_due(
            session, account_id=account_uuid, now=Clock().now(), limit=limit
        )
        emit({"expired": expired})

    run_in_transaction(work)
