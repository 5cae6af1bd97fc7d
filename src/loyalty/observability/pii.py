"""Masking personal data (phones, e-mails, birth dates, names) out of log output.

Code never logs customer fields on purpose; this is the second line of defence for what slips
through anyway: an exception text, a driver message, a field someone adds to `extra=`.
Free text is scanned for phone numbers, e-mail addresses and dates; structured fields whose
name says they hold personal data are replaced whatever their value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# Field names (in `extra=` or nested dicts) whose values are personal data whatever they hold.
PERSONAL_FIELDS = frozenset(
    {
        "phone",
        "phone_raw",
        "phone_e164",
        "phone_key",
        "email",
        "name",
        "customer_name",
        "first_name",
        "middle_name",
        "last_name",
        "legal_first_name",
        "legal_middle_name",
        "legal_last_name",
        "legalfirstname",
        "legalmiddlename",
        "legallastname",
        "birth_date",
        "birthdate",
        "card_number",
        "discountcardnumber",
        "search",
        "verification_code",
        "verificationcode",
    }
)

_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_DATE = r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])|(?<![\w.])\d{2}\.\d{2}\.\d{4}(?![\w.])"
# A phone in any notation: optional +, 10–15 digits, separated by spaces, dashes, dots or
# brackets. The look-arounds keep UUIDs, hex ids and decimals out of it.
_PHONE = r"(?<![\w.+-])\+?\(?\d[\d\s().-]{7,22}\d(?![\w-]|\.\d)"
_PERSONAL_TEXT = re.compile(f"(?P<email>{_EMAIL})|(?P<date>{_DATE})|(?P<phone>{_PHONE})")
# Text without a digit or an @ holds none of the above: the common case costs one scan.
_MAY_BE_PERSONAL = re.compile(r"[\d@]")


def _mask_match(match: re.Match[str]) -> str:
    if match.lastgroup == "phone":
        digits = sum(ch.isdigit() for ch in match.group(0))
        if not 10 <= digits <= 15:
            return match.group(0)
    return MASK


def mask_text(text: str) -> str:
    if not text or not _MAY_BE_PERSONAL.search(text):
        return text
    return _PERSONAL_TEXT.sub(_mask_match, text)


def _is_personal(key: str) -> bool:
    return key.lower().replace("-", "_") in PERSONAL_FIELDS


def mask_value(value: Any) -> Any:
    """Masks strings, and containers recursively; numbers and booleans pass unchanged."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return mask_fields(value)
    if isinstance(value, (list, tuple)):
        return [mask_value(item) for item in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return mask_text(str(value))


def mask_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (MASK if _is_personal(str(key)) and value not in (None, "") else mask_value(value))
        for key, value in fields.items()
    }
