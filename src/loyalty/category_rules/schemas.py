"""Category rule types."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class Target(enum.StrEnum):
    folder = "folder"
    product = "product"


@dataclass(frozen=True)
class Effect:
    """What a rule does to a receipt line: its own earn percent, or no earning, or no spending."""

    earn_percent: Decimal | None = None
    no_earn: bool = False
    no_spend: bool = False


@dataclass(frozen=True)
class CategoryRule:
    target: Target
    target_id: str
    effect: Effect

    def as_json(self) -> dict[str, Any]:
        percent = self.effect.earn_percent
        return {
            "target": self.target.value,
            "id": self.target_id,
            "earnPercent": None if percent is None else format(percent.normalize(), "f"),
            "noEarn": self.effect.no_earn,
            "noSpend": self.effect.no_spend,
        }


@dataclass(frozen=True)
class LineTerms:
    """The terms one receipt line earns and spends under, after rules and the tier."""

    earn_percent: Decimal
    spend_allowed: bool = True
