"""Issuing verification codes (registration and spending). MoySklad's till compares the code
itself (the code is returned to it), so our job is delivery and abuse control."""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common import crypto
from loyalty.common.phones import mask_phone, normalise_phone, phone_lookup_key
from loyalty.config import Settings
from loyalty.observability.metrics import VERIFICATION_CODES
from loyalty.verification import repository
from loyalty.verification.errors import (
    CodeRequestedTooSoon,
    DailyCodeLimitReached,
    PhoneRequired,
    StoreCodeLimitReached,
)
from loyalty.verification.senders import CodeSender

MESSAGE_FOR_CASHIER_LIMIT = 140

_SMS_TEXT = {
    "registration": "Код для регистрации в программе лояльности: {code}",
    "spending": "Код для списания баллов: {code}. Никому не сообщайте его, кроме кассира.",
}


@dataclass(frozen=True)
class IssuedCode:
    code: str
    time_for_repeat_seconds: int
    message_for_cashier: str


def _code_digest(phone_index: bytes, code: str) -> bytes:
    return hashlib.sha256(phone_index + code.encode()).digest()


async def issue_code(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    purpose: str,
    phone: str | None,
    retail_store_id: str | None,
    customer_id: uuid.UUID | None,
    now: datetime,
    settings: Settings,
    sender: CodeSender,
) -> IssuedCode:
    if not phone or not phone.strip():
        raise PhoneRequired()
    e164 = normalise_phone(phone)
    lookup_key = phone_lookup_key(phone)
    assert lookup_key is not None
    phone_index = crypto.keyring().blind_index(account_id, "phone", lookup_key)
    await repository.lock_phone_and_store(session, account_id, phone_index, retail_store_id)
    day_ago = now - timedelta(days=1)
    recent = await repository.recent_requests(session, account_id, phone_index, day_ago)
    repeat = timedelta(seconds=settings.VERIFICATION_REPEAT_SECONDS)
    if recent and now - recent[-1] < repeat:
        seconds_left = max(1, math.ceil((recent[-1] + repeat - now).total_seconds()))
        raise CodeRequestedTooSoon(min(seconds_left, settings.VERIFICATION_REPEAT_SECONDS))
    if len(recent) >= settings.VERIFICATION_DAILY_CAP_PER_PHONE:
        seconds_left = max(1, math.ceil((recent[0] + timedelta(days=1) - now).total_seconds()))
        raise DailyCodeLimitReached(seconds_left)
    if retail_store_id:
        sent, oldest = await repository.store_requests_since(
            session, account_id, retail_store_id, day_ago
        )
        if sent >= settings.VERIFICATION_DAILY_CAP_PER_STORE and oldest is not None:
            seconds_left = max(1, math.ceil((oldest + timedelta(days=1) - now).total_seconds()))
            raise StoreCodeLimitReached(seconds_left)
    code = f"{secrets.randbelow(1_000_000):06d}"
    await repository.insert(
        session,
        account_id=account_id,
        purpose=purpose,
        phone_index=phone_index,
        code_hash=_code_digest(phone_index, code),
        retail_store_id=retail_store_id,
        customer_id=customer_id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.VERIFICATION_CODE_TTL_SECONDS),
    )
    # Sent inside the transaction: if delivery fails the request row rolls back and the
    # cooldown is not burnt.
    try:
        await sender.send(
            phone=e164 or phone.strip(), text=_SMS_TEXT[purpose].format(code=code), code=code
        )
    except Exception:
        VERIFICATION_CODES.labels(purpose=purpose, outcome="failed").inc()
        raise
    VERIFICATION_CODES.labels(purpose=purpose, outcome="sent").inc()
    message = f"Код отправлен покупателю на номер {mask_phone(e164 or phone.strip())}"
    return IssuedCode(
        code, settings.VERIFICATION_REPEAT_SECONDS, message[:MESSAGE_FOR_CASHIER_LIMIT]
    )
