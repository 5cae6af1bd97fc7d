"""Revenue Monster's voucher look-up over the voucher engine."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.compat.revenue_monster.schemas import Expiry, VoucherItem, VoucherResponse
from loyalty.config import Settings
from loyalty.operators.schemas import OperatorContext
from loyalty.vouchers import rules
from loyalty.vouchers import service as vouchers_service
from loyalty.vouchers.errors import UnknownVoucherCode
from loyalty.vouchers.schemas import ExpiryType, VoucherStatus, VoucherType, VoucherView

# Revenue Monster is written in Go: a time it does not have is Go's zero time.
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(moment: datetime | None) -> str:
    if moment is None:
        return ZERO_TIME
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def revenue_monster_status(voucher: VoucherView, now: datetime) -> str:
    """VALID: created; ISSUED: handed out; REDEEMED: claimed by a member; VOID: used up or
    cancelled; EXPIRED: past its date."""
    status = rules.effective_status(voucher, now)
    if status is VoucherStatus.new:
        return "VALID"
    if status is VoucherStatus.issued:
        return "REDEEMED" if voucher.customer_id is not None else "ISSUED"
    if status is VoucherStatus.expired:
        return "EXPIRED"
    return "VOID"


def _expiry(voucher: VoucherView, expiry_type: ExpiryType, days: int | None) -> Expiry:
    if expiry_type is ExpiryType.dynamic and days is not None:
        return Expiry(type="DYNAMIC", day=days, expiredAt=rfc3339(voucher.expires_at))
    return Expiry(type="FIXED", day=0, expiredAt=rfc3339(voucher.expires_at))


async def voucher_by_code(
    session: AsyncSession,
    operator: OperatorContext,
    code: str,
    *,
    now: datetime,
    settings: Settings,
) -> VoucherResponse:
    voucher = await vouchers_service.lookup_for_client(
        session,
        account_id=operator.account_id,
        raw_code=code,
        client_key=f"key:{operator.key_id}",
        now=now,
        settings=settings,
        not_found=lambda typo: UnknownVoucherCode(code),
    )
    batch = await vouchers_service.get_batch(session, operator.account_id, voucher.batch_id)
    amount = 0
    if voucher.voucher_type is not VoucherType.discount:
        amount = voucher.balance_minor if voucher.has_balance else voucher.face_value_minor or 0
    rate = int((voucher.discount_percent or 0) * 100)
    return VoucherResponse(
        item=VoucherItem(
            key=str(voucher.id),
            label=voucher.note or voucher.batch_name,
            redemptionRuleKey=None,
            voucherBatchKey=str(voucher.batch_id),
            type=voucher.voucher_type.value,
            amount=amount,
            discountRate=rate,
            minimumSpendAmount=voucher.min_spend_minor,
            origin=voucher.origin,
            imageUrl="",
            memberProfile=None,
            redemptionRule=None,
            assignedAt=rfc3339(voucher.issued_at),
            payload=None,
            qrUrl="",
            code=voucher.code,
            isShipping=False,
            address=None,
            expiry=_expiry(voucher, batch.expiry_type, batch.expiry_days),
            usedAt=rfc3339(voucher.last_used_at),
            redeemedAt=rfc3339(voucher.issued_at if voucher.customer_id else None),
            isDeviceRedeem=True,
            status=revenue_monster_status(voucher, now),
            createdAt=rfc3339(voucher.created_at),
            updatedAt=rfc3339(voucher.updated_at),
        )
    )
