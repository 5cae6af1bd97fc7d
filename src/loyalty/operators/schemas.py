"""Operator roles and the identity resolved from an operator API key."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    """Ordered by power: each role can do everything the ones before it can."""

    read_only = "read-only"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


@dataclass(frozen=True)
class OperatorContext:
    """Who is calling the operator or compatibility API, for one merchant account."""

    account_id: uuid.UUID
    key_id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"operator-key:{self.key_id}:{self.name}"


@dataclass(frozen=True)
class IssuedKey:
    id: int
    account_id: uuid.UUID
    name: str
    role: Role
    key: str


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    role: Role
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None
