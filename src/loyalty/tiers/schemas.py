"""Tier types, shared by the till path (loaded with the program settings) and the operator API."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Tier:
    name: str
    threshold_minor: int
    earn_percent: Decimal
    max_spend_percent: Decimal

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "thresholdMinor": self.threshold_minor,
            "earnPercent": format(self.earn_percent.normalize(), "f"),
            "maxSpendPercent": format(self.max_spend_percent.normalize(), "f"),
        }


@dataclass(frozen=True)
class Standing:
    """Where a customer stands: net purchases in the window, their tier and the next one."""

    window_total_minor: int
    tier: Tier | None
    next_tier: Tier | None
