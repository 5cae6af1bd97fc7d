"""Enactor's voucher serial number POS API over the voucher engine.

Business refusals answer `{"outcome": {"name": "Fail"}}` with HTTP 200, as Enactor's POS
expects; each update runs in a savepoint, so a refused update leaves nothing behind. Look-up
misses answer `NotFound` and count towards the client's lockout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.errors import DomainError
from loyalty.compat.enactor.schemas import (
    EnquiryRequest,
    MatchingEnquiryRequest,
    RegionId,
    TrackedUpdateRequest,
    UpdateRequest,
    VoucherTypeId,
    echo,
    outcome,
)
from loyalty.config import Settings
from loyalty.operators.schemas import OperatorContext
from loyalty.vouchers import rules
from loyalty.vouchers import service as vouchers_service
from loyalty.vouchers.errors import UnknownVoucherCode, VoucherRedeemRefused
from loyalty.vouchers.schemas import VoucherStatus, VoucherView
from loyalty.vouchers.service import Actor, VoucherTerms

PROPERTY_NAMES = [
    "serialNumber",
    "voucherTypeKey.regionKey.groupId",
    "voucherTypeKey.regionKey.groupHierarchyId",
    "voucherTypeKey.regionKey.groupTypeId",
    "voucherTypeKey.voucherTypeId",
    "status",
    "expiryDate",
    "startDate",
    "campaignNumber",
    "externalReference",
    "Region:groupId",
]
COMMITTED = {"COMMITED", "COMMITTED"}
CANCELLED = {"VOIDED", "VOID", "CANCELLED", "CANCELED", "ROLLEDBACK", "ROLLED_BACK"}


def client_key(operator: OperatorContext) -> str:
    return f"key:{operator.key_id}"


def _ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def enactor_status(voucher: VoucherView) -> str:
    """Enactor knows New, Issued, Redeemed and Voided; expiry is a date beside the status."""
    return {
        VoucherStatus.new: "NEW",
        VoucherStatus.issued: "ISSUED",
        VoucherStatus.redeemed: "REDEEMED",
        VoucherStatus.void: "VOIDED",
        VoucherStatus.expired: "ISSUED",
    }[voucher.status]


def _value(voucher: VoucherView) -> int:
    return voucher.balance_minor if voucher.has_balance else voucher.face_value_minor or 0


def fail(message: str) -> dict[str, Any]:
    return {"outcome": outcome("Fail"), "message": message}


async def _find(
    session: AsyncSession,
    operator: OperatorContext,
    serial_number: str,
    now: datetime,
    settings: Settings,
) -> VoucherView | None:
    try:
        return await vouchers_service.lookup_for_client(
            session,
            account_id=operator.account_id,
            raw_code=serial_number,
            client_key=client_key(operator),
            now=now,
            settings=settings,
            not_found=lambda typo: UnknownVoucherCode(serial_number, "serialNumber"),
        )
    except UnknownVoucherCode:
        return None


def _of_type(voucher: VoucherView, type_id: VoucherTypeId | None) -> bool:
    """A voucher type in Enactor is our batch, named by its code."""
    return type_id is None or voucher.batch_code == type_id.voucherTypeId


async def enquiry(
    session: AsyncSession,
    operator: OperatorContext,
    body: EnquiryRequest,
    *,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    voucher = await _find(session, operator, body.serialNumber, now, settings)
    if voucher is None or not _of_type(voucher, body.voucherTypeId):
        return {"outcome": outcome("NotFound")}
    return {
        "outcome": outcome("Success"),
        "voucherSerialNumber": {
            "lastUpdated": _ms(voucher.updated_at),
            "voucherTypeId": echo(body.voucherTypeId),
            "serialNumber": body.serialNumber,
            "value": _value(voucher),
            "status": enactor_status(voucher),
            "currencyId": voucher.currency,
            "customerId": {"id": str(voucher.customer_id)} if voucher.customer_id else {},
        },
    }


def _region(region: RegionId | None) -> dict[str, Any]:
    return echo(region) if region is not None else {}


async def matching_enquiry(
    session: AsyncSession,
    operator: OperatorContext,
    body: MatchingEnquiryRequest,
    *,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    voucher = await _find(session, operator, body.serialNumber, now, settings)
    expired = voucher is not None and rules.is_past_expiry(voucher, now)
    if voucher is None or (expired and body.removeExpiredVoucherSerialNumbers):
        return {"list": [], "propertyNames": PROPERTY_NAMES}
    region = _region(body.regionId)
    data: dict[str, Any] = {
        "Region:groupId": region.get("groupId"),
        "serialNumber": body.serialNumber,
        "voucherTypeKey.regionKey.groupTypeId": region.get("groupTypeId"),
        "voucherTypeKey.voucherTypeId": voucher.batch_code,
        "voucherTypeKey.regionKey.groupId": region.get("groupId"),
        "voucherTypeKey.regionKey.groupHierarchyId": region.get("groupHierarchyId"),
        "status": enactor_status(voucher),
    }
    if voucher.expires_at is not None:
        data["expiryDate"] = _ms(voucher.expires_at)
    if voucher.valid_from is not None:
        data["startDate"] = _ms(voucher.valid_from)
    return {
        "list": [
            {
                "key": {
                    "@type": "voucherSerialNumberKey",
                    "serialNumber": body.serialNumber,
                    "voucherTypeId": {"regionId": region, "voucherTypeId": voucher.batch_code},
                },
                "descriptionProperty": body.serialNumber,
                "data": {key: value for key, value in data.items() if value is not None},
            }
        ],
        "propertyNames": PROPERTY_NAMES,
    }


async def _apply(
    session: AsyncSession,
    operator: OperatorContext,
    body: UpdateRequest,
    voucher: VoucherView | None,
    *,
    redeem_key: str,
    actor: Actor,
    now: datetime,
) -> str | None:
    """Move the voucher to `newStatus`; returns a refusal message, or None when done."""
    status = body.newStatus.upper()
    type_id = body.type_id
    if voucher is not None and not _of_type(voucher, type_id):
        return "Ваучер относится к другому типу (voucherTypeId)."
    if voucher is None:
        if not (body.allowCreate and status == "ISSUED" and type_id is not None):
            return "Ваучер не найден."
        batch = await vouchers_service.get_batch_by_code(
            session, operator.account_id, type_id.voucherTypeId, "voucherTypeId"
        )
        if batch.currency != body.currencyId.upper():
            return f"Тип ваучера ведётся в валюте {batch.currency}, а не {body.currencyId}."
        voucher = await vouchers_service.create_voucher(
            session,
            batch=batch,
            code=body.voucherSerialNumberKey.serialNumber,
            terms=VoucherTerms(face_value_minor=body.voucherValue or None),
            actor=actor,
            now=now,
        )
    if voucher.currency != body.currencyId.upper():
        return f"Ваучер ведётся в валюте {voucher.currency}, а не {body.currencyId}."
    if status == "ISSUED":
        if voucher.status is VoucherStatus.issued and _value(voucher) == body.voucherValue:
            return None
        if voucher.status is not VoucherStatus.new:
            return f"Ваучер уже в статусе {enactor_status(voucher)}."
        await vouchers_service.issue_voucher(
            session,
            account_id=operator.account_id,
            voucher_id=voucher.id,
            customer_reference=None,
            actor=actor,
            now=now,
        )
        return None
    if status == "REDEEMED":
        await vouchers_service.redeem(
            session,
            account_id=operator.account_id,
            voucher_id=voucher.id,
            amount_minor=body.voucherValue or None,
            pin=None,
            idempotency_key=redeem_key,
            customer_id=None,
            actor=actor,
            now=now,
            parameter="voucherSerialNumberKey.serialNumber",
        )
        return None
    if status in ("VOIDED", "VOID"):
        await vouchers_service.void_voucher(
            session,
            account_id=operator.account_id,
            voucher_id=voucher.id,
            reason="Enactor: VOIDED",
            actor=actor,
            now=now,
        )
        return None
    return f"Статус {body.newStatus} не поддерживается: ISSUED, REDEEMED или VOIDED."


async def update(
    session: AsyncSession,
    operator: OperatorContext,
    body: UpdateRequest,
    *,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    voucher = await _find(
        session, operator, body.voucherSerialNumberKey.serialNumber, now, settings
    )
    actor = Actor(operator.actor)
    key = f"enactor:update:{voucher.id if voucher else body.voucherSerialNumberKey.serialNumber}"
    try:
        async with session.begin_nested():
            refusal = await _apply(
                session, operator, body, voucher, redeem_key=key, actor=actor, now=now
            )
            if refusal is not None:
                raise VoucherRedeemRefused(refusal)
    except DomainError as error:
        if error.keeps_changes:
            raise
        return fail(error.message)
    return {
        "outcome": outcome("Success"),
        "voucherSerialNumberUpdate": {
            "voucherSerialNumberUpdate": echo(body) | {"updateId": now.strftime("%Y%m%d%H%M%S")}
        },
    }


async def tracked_update(
    session: AsyncSession,
    operator: OperatorContext,
    body: TrackedUpdateRequest,
    *,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """A committed basket line applies `newStatus` once per transaction and line; a voided
    line gives back what that line took."""
    key = f"enactor:{body.transactionId}:{body.basketLineNumber}"
    actor = Actor(
        name=operator.actor + (f":user:{body.userId.id}" if body.userId and body.userId.id else ""),
        retail_store_id=body.locationId.id if body.locationId else None,
        document=body.transactionId,
    )
    update_status = body.updateStatus.upper()
    voucher = await _find(
        session, operator, body.voucherSerialNumberKey.serialNumber, now, settings
    )
    try:
        async with session.begin_nested():
            if update_status in CANCELLED:
                reversed_voucher = (
                    await vouchers_service.reverse_redemption(
                        session,
                        account_id=operator.account_id,
                        voucher_id=voucher.id,
                        idempotency_key=key,
                        actor=actor,
                        now=now,
                    )
                    if voucher is not None
                    else None
                )
                if reversed_voucher is None:
                    raise VoucherRedeemRefused(
                        "Нет операции этой строки чека, которую можно отменить."
                    )
            elif update_status in COMMITTED:
                refusal = await _apply(
                    session, operator, body, voucher, redeem_key=key, actor=actor, now=now
                )
                if refusal is not None:
                    raise VoucherRedeemRefused(refusal)
            else:
                raise VoucherRedeemRefused(f"updateStatus {body.updateStatus} не поддерживается.")
    except DomainError as error:
        if error.keeps_changes:
            raise
        return fail(error.message)
    return {
        "voucherSerialNumberUpdate": {"voucherSerialNumberTrackedUpdate": echo(body)},
        "outcome": outcome("Success"),
    }
