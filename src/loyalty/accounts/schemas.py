"""Internal account types."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from loyalty.program.schemas import ProgramSettings
from loyalty.tiers.schemas import Tier


@dataclass(frozen=True)
class AccountContext:
    """Who is calling: resolved from the till token on every LoyaltyAPI request."""

    account_id: uuid.UUID
    token_id: int
    program: ProgramSettings
    # Loaded with the program settings, so a program without them costs no round trip.
    tiers: tuple[Tier, ...] = ()
    has_category_rules: bool = False


@dataclass(frozen=True)
class CreatedAccount:
    id: uuid.UUID
    name: str
    moysklad_account_id: str | None
    token: str | None


@dataclass(frozen=True)
class TokenInfo:
    id: int
    state: str
    created_at: str
