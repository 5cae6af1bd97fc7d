"""Audit events: one row per change, with who, what, before/after, where and when."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AuditEvent:
    account_id: uuid.UUID
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    occurred_at: datetime
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    retail_store_id: str | None = None
    document: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    retail_store_id: str | None
    document: str | None
