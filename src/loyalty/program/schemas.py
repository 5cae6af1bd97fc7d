"""Program settings: what a merchant configures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ProgramSettings:
    """One point is worth one rouble when spent; points are whole, earning rounds down."""

    earn_percent: Decimal = Decimal("5")
    max_spend_percent: Decimal = Decimal("50")
    earn_on_spend: bool = True
    activation_delay_days: int = 0
    expiry_days: int | None = None
    welcome_bonus_points: int = 0
    verify_registration: bool = False
    verify_spend_above_points: int | None = None
    auto_enroll: bool = True
    receipt_text: str = ""
    # Vouchers and gift certificates.
    restore_gift_cards_on_return: bool = True
    apply_personal_vouchers: bool = True
    voucher_stacking: str = "stack"  # "stack": voucher and points; "exclusive": voucher only
    # Scheduled jobs: a yearly birthday bonus (0 = off) paid within the window around the
    # birthday, and `points.expiring` warnings this many days ahead (0 = off).
    birthday_bonus_points: int = 0
    birthday_window_days: int = 0
    expiry_warning_days: int = 0
    # Tiers: purchases count over this many calendar months, the current one included.
    tier_window_months: int = 12
    version: int = 1

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["earn_percent"] = format(self.earn_percent.normalize(), "f")
        data["max_spend_percent"] = format(self.max_spend_percent.normalize(), "f")
        return data


PROGRAM_FIELDS = tuple(
    field for field in ProgramSettings.__dataclass_fields__ if field != "version"
)
