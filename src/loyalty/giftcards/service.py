"""Gift certificates at the MoySklad till: look-up, payment with a sale, restore on return.

A certificate is a GIFT voucher: stored value in kopecks. Paying with it decrements the balance
in the sale's own transaction, under the same idempotency as the sale; any refusal rolls the
whole sale back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts.schemas import AccountContext
from loyalty.common.errors import InvalidRequest
from loyalty.config import Settings
from loyalty.giftcards.schemas import GiftCardResponse
from loyalty.ledger.vouchers import MovementKind
from loyalty.sales.schemas import GiftCardPayment
from loyalty.vouchers import codes, rules
from loyalty.vouchers import service as vouchers_service
from loyalty.vouchers.errors import (
    GiftCardNotFound,
    GiftCardRefused,
    GiftCardsExceedReceipt,
    InsufficientVoucherBalance,
    roubles,
)
from loyalty.vouchers.schemas import VoucherStatus, VoucherType, VoucherView
from loyalty.vouchers.service import Actor

WIRE_DATE = "%Y-%m-%d %H:%M:%S"


def till_client_key(retail_store_id: str) -> str:
    """MoySklad calls with one token per account: the store is the narrowest client we know."""
    return f"store:{retail_store_id}"


async def find_gift_card(
    session: AsyncSession,
    context: AccountContext,
    *,
    name: str,
    retail_store_id: str | None,
    now: datetime,
    settings: Settings,
) -> GiftCardResponse:
    """GET /giftcard: the certificate's status and balance; a miss counts towards lockout."""
    if not retail_store_id or not retail_store_id.strip():
        raise InvalidRequest("Не указана точка продаж", parameter="retailStoreId")
    if not name.strip():
        raise InvalidRequest("Не указан номер сертификата", parameter="name")
    voucher = await vouchers_service.lookup_for_client(
        session,
        account_id=context.account_id,
        raw_code=name,
        client_key=till_client_key(retail_store_id.strip()),
        now=now,
        settings=settings,
        not_found=lambda typo: GiftCardNotFound(name.strip(), typo=typo),
    )
    return GiftCardResponse(
        name=name,
        id=str(voucher.id),
        status=rules.giftcard_status(voucher, now),
        expireDate=voucher.expires_at.strftime(WIRE_DATE) if voucher.expires_at else None,
        currentBalance=voucher.balance_minor,
        initialBalance=voucher.initial_balance_minor,
    )


@dataclass
class _Payment:
    index: int
    name: str
    voucher: VoucherView
    amount_minor: int


def _refused(index: int, name: str, reason: str, field: str = "id") -> GiftCardRefused:
    return GiftCardRefused(f"Сертификат № {name} {reason}", parameter=f"giftCards[{index}].{field}")


async def _resolve(
    session: AsyncSession, account_id: uuid.UUID, index: int, payment: GiftCardPayment
) -> VoucherView:
    """By our id (returned by GET /giftcard), else by number; the two must agree."""
    try:
        voucher_id: uuid.UUID | None = uuid.UUID(payment.id)
    except ValueError:
        voucher_id = None
    found = (
        await vouchers_service.find_by_id(session, account_id, voucher_id)
        if voucher_id is not None
        else None
    )
    if found is None:
        found = await vouchers_service.find_by_code(session, account_id, payment.name)
        if found is None:
            raise _refused(index, payment.name, "не найден в программе лояльности этого магазина.")
    elif codes.normalise(found.code) != codes.normalise(payment.name):
        raise _refused(
            index, payment.name, f"не совпадает с найденным по id ({found.code}).", "name"
        )
    return found


def _check_usable(payment: _Payment, now: datetime) -> None:
    voucher, index, name = payment.voucher, payment.index, payment.name
    status = rules.effective_status(voucher, now)
    if voucher.voucher_type is not VoucherType.gift:
        raise _refused(index, name, "— не подарочный сертификат: оплатить им чек нельзя.")
    reasons = {
        VoucherStatus.new: "ещё не продан (не активирован).",
        VoucherStatus.void: "аннулирован.",
        VoucherStatus.redeemed: "уже полностью использован.",
    }
    if status is VoucherStatus.expired:
        assert voucher.expires_at is not None
        raise _refused(
            index, name, f"просрочен: срок действия истёк {voucher.expires_at:%d.%m.%Y}."
        )
    if status in reasons:
        raise _refused(index, name, reasons[status])
    if voucher.valid_from is not None and voucher.valid_from > now:
        raise _refused(index, name, f"действует с {voucher.valid_from:%d.%m.%Y}.")
    if voucher.pin_protected:
        raise _refused(index, name, "защищён PIN-кодом; оплатить им на кассе МойСклад нельзя.")
    if payment.amount_minor > voucher.balance_minor:
        raise InsufficientVoucherBalance(
            available_minor=voucher.balance_minor,
            requested_minor=payment.amount_minor,
            parameter=f"giftCards[{index}].paymentSum",
            number=name,
        )


async def redeem_for_sale(
    session: AsyncSession,
    context: AccountContext,
    *,
    payments: list[GiftCardPayment],
    receipt_minor: int,
    sale_id: int,
    customer_id: uuid.UUID | None,
    actor: Actor,
    now: datetime,
) -> int:
    """Pay part of a sale with certificates. The caller already holds the customer's lock; the
    certificates are locked here (id order) and checked under the lock. Returns kopecks paid."""
    account_id = context.account_id
    merged: dict[uuid.UUID, _Payment] = {}
    for index, payment in enumerate(payments):
        if payment.paymentSum <= 0:
            raise GiftCardRefused(
                f"Сумма оплаты сертификатом № {payment.name} должна быть больше нуля.",
                parameter=f"giftCards[{index}].paymentSum",
            )
        voucher = await _resolve(session, account_id, index, payment)
        if voucher.id in merged:
            merged[voucher.id].amount_minor += payment.paymentSum
        else:
            merged[voucher.id] = _Payment(index, payment.name, voucher, payment.paymentSum)
    total_minor = sum(payment.amount_minor for payment in merged.values())
    if total_minor > receipt_minor:
        raise GiftCardsExceedReceipt(total_minor, receipt_minor)
    locked = await vouchers_service.lock_many(session, account_id, list(merged))
    in_order = sorted(merged.values(), key=lambda item: item.index)
    for pending in in_order:
        pending.voucher = locked[pending.voucher.id]
        _check_usable(pending, now)
    for pending in in_order:
        await vouchers_service.move(
            session,
            account_id,
            pending.voucher,
            kind=MovementKind.redeem,
            amount_minor=-pending.amount_minor,
            uses_delta=1,
            key=f"sale:{sale_id}",
            action="giftcard.redeem",
            actor=actor,
            now=now,
            applied_minor=pending.amount_minor,
            customer_id=customer_id,
            sale_id=sale_id,
            parameter=f"giftCards[{pending.index}].id",
        )
    return total_minor


async def restore_for_return(
    session: AsyncSession,
    context: AccountContext,
    *,
    sale_id: int,
    sale_value_minor: int,
    returned_value_minor: int,
    return_id: int,
    actor: Actor,
    now: datetime,
) -> int:
    """Give certificates back the share of their payment that the returns so far represent
    (cumulative, so several partial returns add up to exactly what was paid). A certificate
    that can no longer be used gets nothing back: the till refunds that part by other means."""
    account_id = context.account_id
    paid: dict[uuid.UUID, int] = {}
    payer: dict[uuid.UUID, uuid.UUID | None] = {}
    restored: dict[uuid.UUID, int] = {}
    for movement in await vouchers_service.sale_movements(session, account_id, sale_id):
        if movement.kind == "redeem" and movement.amount_minor < 0:
            paid[movement.voucher_id] = paid.get(movement.voucher_id, 0) - movement.amount_minor
            payer[movement.voucher_id] = movement.customer_id
        elif movement.kind == "refund" and movement.return_id is not None:
            restored[movement.voucher_id] = (
                restored.get(movement.voucher_id, 0) + movement.amount_minor
            )
    gift_ids = [
        voucher_id
        for voucher_id in paid
        if (await vouchers_service.get_voucher(session, account_id, voucher_id)).voucher_type
        is VoucherType.gift
    ]
    if not gift_ids:
        return 0
    locked = await vouchers_service.lock_many(session, account_id, gift_ids)
    total = 0
    for voucher_id in sorted(gift_ids):
        before = locked[voucher_id]
        target = rules.share_half_up(paid[voucher_id], returned_value_minor, sale_value_minor)
        amount = target - restored.get(voucher_id, 0)
        if amount <= 0 or not (
            before.status in (VoucherStatus.issued, VoucherStatus.redeemed)
            and not rules.is_past_expiry(before, now)
        ):
            continue
        _, replayed = await vouchers_service.move(
            session,
            account_id,
            before,
            kind=MovementKind.refund,
            amount_minor=amount,
            uses_delta=-1 if target >= paid[voucher_id] else 0,
            key=f"return:{return_id}",
            action="giftcard.restore",
            actor=actor,
            now=now,
            applied_minor=-amount,
            customer_id=payer[voucher_id],
            sale_id=sale_id,
            return_id=return_id,
            reason=f"Возврат: {roubles(amount)} на сертификат",
        )
        total += 0 if replayed else amount
    return total
