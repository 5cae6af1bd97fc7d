"""Smart Loyalty's voucher calls over the voucher engine.

`saveVoucher` creates or updates vouchers by their `id` (our code) in the batch named by
`voucherGroupId`, and issues them (to `customerPkId` when given). Saving the same voucher again
changes nothing; terms that would rewrite history (type, value) cannot change once saved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.compat.smart_loyalty.schemas import SaveVoucherRequest, VoucherIn
from loyalty.customers import service as customers_service
from loyalty.operators.schemas import OperatorContext
from loyalty.vouchers import rules
from loyalty.vouchers import service as vouchers_service
from loyalty.vouchers.errors import InvalidVoucherSetting, VoucherStateRefused
from loyalty.vouchers.repository import VoucherFilter
from loyalty.vouchers.schemas import (
    BatchView,
    Page,
    VoucherStatus,
    VoucherType,
    VoucherView,
)
from loyalty.vouchers.service import Actor, VoucherTerms

UNITS = 100  # minor units per currency unit
LIST_LIMIT = 1000


def parse_expire_date(value: str | None, parameter: str) -> datetime | None:
    """`2025/12/31` (or `2025-12-31`): valid through that day, so it expires at the next
    midnight, UTC."""
    if value is None or not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip().replace("/", "-")[:10])
    except ValueError as exc:
        raise InvalidVoucherSetting(
            "Дата окончания — в формате ГГГГ/ММ/ДД", parameter=parameter
        ) from exc
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)


def format_expire_date(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment.astimezone(UTC) - timedelta(microseconds=1)).strftime("%Y/%m/%d")


def _terms(item: VoucherIn, batch: BatchView, customer_id: Any, parameter: str) -> VoucherTerms:
    if item.percent > 0:
        voucher_type = VoucherType.discount
    elif batch.voucher_type is VoucherType.gift:
        voucher_type = VoucherType.gift
    else:
        voucher_type = VoucherType.cash
    if voucher_type is not VoucherType.discount and item.amount <= 0:
        raise InvalidVoucherSetting(
            "Укажите amount (сумму) или percent (процент) ваучера", parameter=f"{parameter}.amount"
        )
    return VoucherTerms(
        voucher_type=voucher_type,
        face_value_minor=item.amount * UNITS if voucher_type is not VoucherType.discount else None,
        discount_percent=Decimal(item.percent) if voucher_type is VoucherType.discount else None,
        has_balance=(item.hasBalance or "").upper() == "Y" or voucher_type is VoucherType.gift,
        usage_limit=item.usageCount or None,
        max_use_percent=Decimal(item.maxUsePercent) if item.maxUsePercent else None,
        customer_id=customer_id,
        expires_at=parse_expire_date(item.expireDate, f"{parameter}.expireDate"),
        pin=str(item.password) if item.password not in (None, "") else None,
    )


def _same_value(voucher: VoucherView, terms: VoucherTerms) -> bool:
    return (
        voucher.voucher_type is terms.voucher_type
        and voucher.has_balance == terms.has_balance
        and (voucher.discount_percent or None) == terms.discount_percent
        and (voucher.face_value_minor or None) == terms.face_value_minor
    )


async def save_vouchers(
    session: AsyncSession, operator: OperatorContext, body: SaveVoucherRequest, *, now: datetime
) -> list[dict[str, Any]]:
    actor = Actor(operator.actor)
    table = []
    for index, item in enumerate(body.Voucher):
        parameter = f"Voucher[{index}]"
        batch = await vouchers_service.get_batch_by_code(
            session, operator.account_id, item.voucherGroupId, f"{parameter}.voucherGroupId"
        )
        customer_id = None
        if item.customerPkId not in (None, ""):
            customer_id = (
                await customers_service.find_for_operator(
                    session, operator.account_id, str(item.customerPkId)
                )
            ).id
        terms = _terms(item, batch, customer_id, parameter)
        voucher = await vouchers_service.find_by_code(session, operator.account_id, item.id)
        if voucher is None:
            voucher = await vouchers_service.create_voucher(
                session, batch=batch, code=item.id, terms=terms, actor=actor, now=now
            )
        elif voucher.batch_id != batch.id or not _same_value(voucher, terms):
            raise VoucherStateRefused(
                f"Ваучер {item.id} уже сохранён с другой группой, типом или суммой.",
                parameter=f"{parameter}.id",
            )
        else:
            await vouchers_service.update_terms(
                session,
                account_id=operator.account_id,
                voucher_id=voucher.id,
                changes={
                    "usage_limit": terms.usage_limit
                    or (None if voucher.has_balance else batch.uses_per_voucher),
                    "max_use_percent": terms.max_use_percent,
                    "expires_at": terms.expires_at,
                },
                actor=actor,
                now=now,
            )
            await vouchers_service.set_pin(
                session,
                account_id=operator.account_id,
                voucher_id=voucher.id,
                pin=terms.pin,
                actor=actor,
                now=now,
            )
        if voucher.status is VoucherStatus.new:
            voucher = await vouchers_service.issue_voucher(
                session,
                account_id=operator.account_id,
                voucher_id=voucher.id,
                customer_reference=str(customer_id) if customer_id else None,
                expires_at=terms.expires_at,
                actor=actor,
                now=now,
            )
        elif customer_id is not None and voucher.customer_id != customer_id:
            voucher = await vouchers_service.issue_voucher(
                session,
                account_id=operator.account_id,
                voucher_id=voucher.id,
                customer_reference=str(customer_id),
                actor=actor,
                now=now,
            )
        table.append({"PkId": voucher.serial_number, "Id": voucher.code})
    return table


def voucher_row(voucher: VoucherView, now: datetime) -> dict[str, Any]:
    """A voucher in the fields `saveVoucher` takes, plus its state (never the PIN)."""
    return {
        "PkId": voucher.serial_number,
        "id": voucher.code,
        "customerPkId": str(voucher.customer_id) if voucher.customer_id else None,
        "voucherGroupId": voucher.batch_code,
        "percent": int(voucher.discount_percent or 0),
        "amount": (voucher.face_value_minor or 0) // UNITS,
        "balance": voucher.balance_minor // UNITS,
        "expireDate": format_expire_date(voucher.expires_at),
        "usageCount": voucher.usage_limit,
        "usedCount": voucher.used_count,
        "hasBalance": "Y" if voucher.has_balance else "N",
        "maxUsePercent": int(voucher.max_use_percent or 0),
        "hasPassword": "Y" if voucher.pin_protected else "N",
        "status": rules.effective_status(voucher, now).value,
    }


async def voucher_list(
    session: AsyncSession,
    operator: OperatorContext,
    *,
    customer: str | None,
    group: str | None,
    code: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    if code:
        found = await vouchers_service.find_by_code(session, operator.account_id, code)
        return [voucher_row(found, now)] if found is not None else []
    customer_id = (
        (await customers_service.find_for_operator(session, operator.account_id, customer)).id
        if customer
        else None
    )
    batch_id = (
        (
            await vouchers_service.get_batch_by_code(
                session, operator.account_id, group, "voucherGroupId"
            )
        ).id
        if group
        else None
    )
    items, _ = await vouchers_service.list_vouchers(
        session,
        operator.account_id,
        VoucherFilter(batch_id=batch_id, customer_id=customer_id),
        Page(count=LIST_LIMIT, offset=0, sort="serialNumber", descending=False),
    )
    return [voucher_row(item, now) for item in items]
