"""Phone numbers arrive in free format ("в произвольном формате"); we normalise to E.164."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "RU"


def normalise_phone(raw: str | None) -> str | None:
    """E.164 when the text parses as a possible number (default region RU), else None."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or len(text) > 64:
        return None
    try:
        parsed = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def mask_phone(phone: str | None) -> str:
    """+79011231122 → +7 *** ***-11-22: enough for a cashier to recognise, not to harvest."""
    if not phone:
        return "номер не указан"
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 4:
        return "***"
    if phone.startswith("+7") and len(digits) == 11:
        return f"+7 *** ***-{digits[-4:-2]}-{digits[-2:]}"
    return "*" * max(len(digits) - 4, 3) + digits[-4:]


def phone_lookup_key(raw: str | None) -> str | None:
    """What a phone is found by: E.164 when it parses, else the text with spacing folded."""
    if raw is None or not raw.strip():
        return None
    return normalise_phone(raw) or " ".join(raw.split()).lower()
