"""Pure program rules: lot lifetimes and receipt text. No I/O."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from loyalty.ledger.schemas import LotTerms
from loyalty.program.schemas import ProgramSettings

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

RECEIPT_PLACEHOLDERS = (
    "balance",
    "balance_after",
    "earned",
    "spent",
    "pending",
    "customer_name",
    "activation_date",
)


def earning_terms(program: ProgramSettings, now: datetime) -> LotTerms:
    """Earned points activate after the delay and expire `expiry_days` after activation."""
    activates_at = now + timedelta(days=program.activation_delay_days)
    expires_at = activates_at + timedelta(days=program.expiry_days) if program.expiry_days else None
    return LotTerms(activates_at=activates_at, expires_at=expires_at)


def immediate_terms(program: ProgramSettings, now: datetime) -> LotTerms:
    """Welcome bonuses, manual credits and refunds: available now, same expiry rule."""
    expires_at = now + timedelta(days=program.expiry_days) if program.expiry_days else None
    return LotTerms(activates_at=now, expires_at=expires_at)


def render_receipt_text(template: str, values: dict[str, str]) -> str:
    """Substitute `{name}` placeholders from a fixed set; anything else is left as written
    (no str.format, so a template can never reach attributes or crash the sale)."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def validate_receipt_template(template: str) -> list[str]:
    """Unknown placeholders, for the settings form and the CLI."""
    return sorted(
        {name for name in _PLACEHOLDER.findall(template) if name not in RECEIPT_PLACEHOLDERS}
    )
