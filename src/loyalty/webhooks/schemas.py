"""Internal webhook types."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from loyalty.models.webhook import WEBHOOK_EVENT_TYPES

EVENT_TYPES = WEBHOOK_EVENT_TYPES


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    event_types: list[str]
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: Endpoint
    secret: str


@dataclass(frozen=True)
class LeasedDelivery:
    account_id: uuid.UUID
    id: int
    endpoint_id: int
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, object]
    occurred_at: datetime
    attempts: int
    url: str
    secret_ciphertext: bytes
