"""A real local HTTP receiver for webhooks, and the delivery loop run in-process."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import text

from loyalty.config import Settings
from loyalty.db.engine import make_engine, make_sessionmaker
from loyalty.webhooks import delivery
from tests.conftest import Tenant
from tests.support.db import Database
from tests.support.server import LiveServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeReceiver:
    """Records every request; answers the queued statuses first, then `default_status`."""

    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    app: FastAPI = field(default_factory=FastAPI)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            with self._lock:
                self.received.append(Received(dict(request.headers), body))
                status = self.statuses.pop(0) if self.statuses else self.default_status
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            return Response(status_code=status)


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    fake = FakeReceiver()
    live = LiveServer(fake.app)
    live.start()
    fake.url = f"{live.base_url}/hook"
    yield fake
    live.stop()


FAST_RETRIES = delivery.DeliverySettings(
    batch_size=50,
    timeout_seconds=5.0,
    max_attempts=5,
    retry_base_seconds=0.05,
    retry_max_seconds=0.2,
    lease_seconds=30.0,
    allow_private_addresses=True,  # the receiver listens on loopback
)


def pending_count(db: Database, account_id: uuid.UUID) -> int:
    return int(
        db.scalar(
            "SELECT count(*) FROM webhook_delivery WHERE account_id = :account"
            " AND status = 'pending'",
            account=account_id,
        )
    )


def drain(
    settings: Settings,
    tenant: Tenant,
    options: delivery.DeliverySettings = FAST_RETRIES,
    *,
    timeout_seconds: float = 20.0,
) -> None:
    """Run delivery passes until none of the tenant's events is pending."""

    async def main() -> None:
        engine = make_engine(settings)
        client = delivery.make_client()
        try:
            sessionmaker = make_sessionmaker(engine)
            deadline = time.monotonic() + timeout_seconds
            while time.monotonic() < deadline:
                await delivery.deliver_due(sessionmaker, client, options)
                async with sessionmaker() as session:
                    left = await session.scalar(
                        text(
                            "SELECT count(*) FROM webhook_delivery WHERE account_id = :account"
                            " AND status = 'pending'"
                        ),
                        {"account": tenant.account_id},
                    )
                if not left:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("webhook events still pending after the timeout")
        finally:
            await client.aclose()
            await engine.dispose()

    asyncio.run(main())


def outbox(db: Database, account_id: uuid.UUID) -> list[dict[str, Any]]:
    return db.fetch(
        "SELECT id, event_id, event_type, payload, status, attempts FROM webhook_delivery"
        " WHERE account_id = :account ORDER BY id",
        account=account_id,
    )
