"""How a verification code reaches the customer: `log` (development) or `http` (SMS gateway)."""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

from loyalty.common.phones import mask_phone
from loyalty.config import Settings, SmsSenderKind
from loyalty.verification.errors import CodeDeliveryFailed

logger = logging.getLogger("loyalty.verification")


class CodeSender(Protocol):
    async def send(self, *, phone: str, text: str, code: str) -> None: ...

    async def aclose(self) -> None: ...


class LogSender:
    """Writes the code to the service log (the phone is masked): for development only."""

    async def send(self, *, phone: str, text: str, code: str) -> None:
        logger.info("verification code %s for %s", code, mask_phone(phone))

    async def aclose(self) -> None:
        return None


class HttpSender:
    """POSTs `{"phone", "text"}` as JSON to the configured SMS gateway."""

    def __init__(self, url: str, token: str | None, timeout_seconds: float) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._url = url
        self._client = httpx.AsyncClient(timeout=timeout_seconds, headers=headers)

    async def send(self, *, phone: str, text: str, code: str) -> None:
        try:
            response = await self._client.post(self._url, json={"phone": phone, "text": text})
        except httpx.HTTPError as exc:
            logger.warning("sms gateway unreachable", extra={"error_type": type(exc).__name__})
            raise CodeDeliveryFailed() from exc
        if response.status_code >= 300:
            logger.warning("sms gateway refused", extra={"status": response.status_code})
            raise CodeDeliveryFailed()

    async def aclose(self) -> None:
        await self._client.aclose()


def make_sender(settings: Settings) -> CodeSender:
    if SmsSenderKind.http == settings.SMS_SENDER:
        if not settings.SMS_GATEWAY_URL:
            raise ValueError("LOYALTY_SMS_GATEWAY_URL is required when LOYALTY_SMS_SENDER=http")
        token = (
            settings.SMS_GATEWAY_TOKEN.get_secret_value() if settings.SMS_GATEWAY_TOKEN else None
        )
        return HttpSender(settings.SMS_GATEWAY_URL, token, settings.SMS_GATEWAY_TIMEOUT_SECONDS)
    return LogSender()
