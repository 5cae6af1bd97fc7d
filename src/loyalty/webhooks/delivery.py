"""The delivery loop: sends outbox rows to their endpoints, signed, with retries.

A pass leases due rows (SKIP LOCKED, `leased_until`) and commits before any request is made, so
two workers never send one row at once and no transaction stays open over the network. A row
is marked delivered on any 2xx; otherwise it is retried with exponential backoff and jitter,
and after LOYALTY_WEBHOOK_MAX_ATTEMPTS attempts it is marked dead. A worker that dies after
sending but before marking leaves the lease to run out and the event is sent again: delivery
is at least once, and receivers deduplicate by the event id.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty.common import crypto
from loyalty.config import Settings
from loyalty.webhooks import repository
from loyalty.webhooks.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

logger = logging.getLogger("loyalty.webhooks")

USER_AGENT = "loyalty-webhooks/1"


@dataclass(frozen=True)
class DeliverySettings:
    batch_size: int
    timeout_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    lease_seconds: float
    allow_private_addresses: bool = False

    @classmethod
    def of(cls, settings: Settings) -> DeliverySettings:
        return cls(
            batch_size=settings.WEBHOOK_BATCH_SIZE,
            timeout_seconds=settings.WEBHOOK_TIMEOUT_SECONDS,
            max_attempts=settings.WEBHOOK_MAX_ATTEMPTS,
            retry_base_seconds=settings.WEBHOOK_RETRY_BASE_SECONDS,
            retry_max_seconds=settings.WEBHOOK_RETRY_MAX_SECONDS,
            lease_seconds=settings.WEBHOOK_LEASE_SECONDS,
            allow_private_addresses=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
        )


@dataclass
class DeliveryCounts:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.dead

    def add(self, other: DeliveryCounts) -> None:
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.dead += other.dead

    def as_json(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retrying": self.retrying, "dead": self.dead}


def retry_delay_seconds(
    attempts: int, base: float, cap: float, jitter: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random, so receivers
    coming back from an outage are not hit by every worker at the same instant."""
    step = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return step / 2 + jitter() * step / 2


def event_body(row: Any) -> bytes:
    """The JSON sent: the same bytes on every attempt, so a receiver can compare retries."""
    return json.dumps(
        {
            "id": str(row.event_id),
            "type": row.event_type,
            "accountId": str(row.account_id),
            "occurredAt": row.occurred_at.isoformat(),
            "data": row.payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


async def _public_address_problem(url: str) -> str | None:
    """Why the URL's host may not be called: endpoints are set by merchants, so without this
    they could make the service post to its own network (cloud metadata, admin ports). A host
    that resolves differently by the time of the request is not caught here."""
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as error:
        return f"cannot resolve {host}: {error}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return f"refused: {host} resolves to the non-public address {address}"
    return None


async def _send(
    client: httpx.AsyncClient, row: Any, settings: DeliverySettings
) -> tuple[int | None, str | None]:
    """(status code, error); error is None on success."""
    if not settings.allow_private_addresses:
        problem = await _public_address_problem(row.url)
        if problem is not None:
            return None, problem
    body = event_body(row)
    timestamp = int(time.time())
    secret = crypto.keyring().decrypt(row.secret_ciphertext)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_ID_HEADER: str(row.event_id),
        EVENT_TYPE_HEADER: row.event_type,
    }
    try:
        response = await client.post(
            row.url, content=body, headers=headers, timeout=settings.timeout_seconds
        )
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    settings: DeliverySettings,
) -> DeliveryCounts:
    """One pass: lease up to a batch of due events, send them concurrently, record outcomes."""
    async with sessionmaker() as session, session.begin():
        leased = await repository.lease_due(session, settings.batch_size, settings.lease_seconds)
    if not leased:
        return DeliveryCounts()
    outcomes = await asyncio.gather(*(_send(client, row, settings) for row in leased))
    counts = DeliveryCounts()
    async with sessionmaker() as session, session.begin():
        for row, (status_code, error) in zip(leased, outcomes, strict=True):
            if error is None:
                assert status_code is not None
                await repository.mark_delivered(session, row.account_id, row.id, status_code)
                counts.delivered += 1
                continue
            dead = row.attempts >= settings.max_attempts
            await repository.mark_failed(
                session,
                row.account_id,
                row.id,
                dead=dead,
                retry_in_seconds=retry_delay_seconds(
                    row.attempts, settings.retry_base_seconds, settings.retry_max_seconds
                ),
                status_code=status_code,
                error=error,
            )
            if dead:
                counts.dead += 1
                logger.warning(
                    "webhook event dead after its last attempt",
                    extra={"account_id": str(row.account_id), "delivery_id": row.id},
                )
            else:
                counts.retrying += 1
    return counts


def make_client() -> httpx.AsyncClient:
    # Redirects are not followed: the endpoint is exactly the URL the operator configured.
    return httpx.AsyncClient(follow_redirects=False)
