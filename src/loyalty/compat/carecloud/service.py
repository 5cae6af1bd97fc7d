"""CareCloud's list of vouchers tied to a purchase, over the voucher engine.

The purchase is a MoySklad sale (its id, or our numeric id). Values are in currency units
(floats, as CareCloud sends them); dates are `YYYY-MM-DD HH:MM:SS` UTC. Every call counts
towards the key's rate limit (429 with Retry-After beyond it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.errors import InvalidRequest
from loyalty.common.money import minor_to_roubles
from loyalty.compat.carecloud.schemas import (
    PurchaseVoucher,
    PurchaseVouchers,
    PurchaseVouchersResponse,
    Reward,
)
from loyalty.config import Settings
from loyalty.operators.schemas import OperatorContext
from loyalty.throttling import service as throttling_service
from loyalty.vouchers import rules
from loyalty.vouchers import service as vouchers_service
from loyalty.vouchers.schemas import Page, VoucherStatus
from loyalty.vouchers.service import SaleVoucher

SORTABLE = tuple(PurchaseVoucher.model_fields)


def _date(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def state(item: SaleVoucher, now: datetime) -> int:
    """0 deleted (voided), 1 active (can be used), 2 not active."""
    status = rules.effective_status(item.voucher, now)
    if status is VoucherStatus.void:
        return 0
    return 1 if status is VoucherStatus.issued else 2


def _row(item: SaleVoucher, now: datetime) -> PurchaseVoucher:
    voucher = item.voucher
    return PurchaseVoucher(
        voucher_id=str(voucher.id),
        customer_id=str(voucher.customer_id) if voucher.customer_id else "",
        store_id=item.retail_store_id,
        code=voucher.code,
        value=float(minor_to_roubles(item.amount_minor)),
        applied_date=_date(item.applied_at),
        valid_from=_date(voucher.valid_from or voucher.issued_at),
        valid_to=_date(voucher.expires_at),
        reward_group=str(voucher.batch_id),
        note=voucher.note,
        reward=Reward(
            reward_id=str(voucher.batch_id), code=voucher.batch_code, name=voucher.batch_name
        ),
        created_date=_date(voucher.created_at) or "",
        last_change=_date(voucher.updated_at) or "",
        state=state(item, now),
    )


async def purchase_vouchers(
    session: AsyncSession,
    operator: OperatorContext,
    purchase_id: str,
    *,
    count: int,
    offset: int,
    sort_field: str | None,
    sort_direction: str | None,
    now: datetime,
    settings: Settings,
) -> PurchaseVouchersResponse:
    await throttling_service.count_request(
        session,
        account_id=operator.account_id,
        client_key=f"key:{operator.key_id}",
        now=now,
        settings=settings,
    )
    if sort_field is not None and sort_field not in SORTABLE:
        raise InvalidRequest("sort_field: one of " + ", ".join(SORTABLE), parameter="sort_field")
    direction = (sort_direction or "ASC").upper()
    if direction not in ("ASC", "DESC"):
        raise InvalidRequest("sort_direction: ASC or DESC", parameter="sort_direction")
    everything, total = await vouchers_service.sale_vouchers(
        session,
        operator.account_id,
        purchase_id,
        Page(count=1_000_000, offset=0, sort="appliedAt", descending=False),
    )
    rows = [_row(item, now) for item in everything]
    if sort_field is not None:

        def key(row: PurchaseVoucher) -> tuple[bool, Any]:
            value = getattr(row, sort_field)
            return (value is None, str(value) if isinstance(value, Reward) else value)

        rows.sort(key=key, reverse=direction == "DESC")
    elif direction == "DESC":
        rows.reverse()
    return PurchaseVouchersResponse(
        data=PurchaseVouchers(vouchers=rows[offset : offset + count], total_items=total)
    )
