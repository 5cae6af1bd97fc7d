"""Voucher codes: unguessable, in a configurable alphabet, with a check character.

Pure: no I/O. Codes come from `secrets` (a CSPRNG, drawn without bias). The last
character is a Luhn mod N check over the random part, so any single mistyped character and
most swaps of two neighbours are caught before a look-up is spent on them.
"""

from __future__ import annotations

import math
import secrets
import string
from dataclasses import dataclass

# 32 symbols without 0/O and 1/I, which cashiers confuse when typing a printed code.
DEFAULT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = string.digits
DEFAULT_LENGTH = 12
ALLOWED_SYMBOLS = frozenset(string.ascii_uppercase + string.digits)
MIN_ENTROPY_BITS = 40
MAX_PREFIX_LENGTH = 8
_SEPARATORS = str.maketrans("", "", " -_.\t")


class CodeFormatError(ValueError):
    """A code format that cannot give unique, unguessable codes (message in Russian)."""


@dataclass(frozen=True)
class CodeFormat:
    """`length` random characters from `alphabet`, after `prefix`, followed by a check character."""

    length: int = DEFAULT_LENGTH
    alphabet: str = DEFAULT_ALPHABET
    prefix: str = ""

    @property
    def entropy_bits(self) -> float:
        return self.length * math.log2(len(self.alphabet))

    @property
    def total_length(self) -> int:
        return len(self.prefix) + self.length + 1

    def validate(self) -> CodeFormat:
        if len(set(self.alphabet)) != len(self.alphabet):
            raise CodeFormatError("Символы алфавита кодов не должны повторяться")
        if not 10 <= len(self.alphabet) <= 64 or not set(self.alphabet) <= ALLOWED_SYMBOLS:
            raise CodeFormatError(
                "Алфавит кодов — от 10 до 64 разных символов из A–Z и 0–9 (заглавные латинские)"
            )
        if not 6 <= self.length <= 32:
            raise CodeFormatError("Длина кода — от 6 до 32 символов (без контрольного)")
        if len(self.prefix) > MAX_PREFIX_LENGTH or not set(self.prefix) <= ALLOWED_SYMBOLS:
            raise CodeFormatError("Префикс кода — до 8 символов A–Z и 0–9")
        if self.entropy_bits < MIN_ENTROPY_BITS:
            raise CodeFormatError(
                f"Коды такой длины можно подобрать: нужно не меньше {MIN_ENTROPY_BITS} бит"
                f" случайности, сейчас {self.entropy_bits:.0f}. Увеличьте длину или алфавит."
            )
        return self


def check_character(payload: str, alphabet: str) -> str:
    """Luhn mod N check character of `payload` (every character must be in `alphabet`)."""
    base = len(alphabet)
    total = 0
    factor = 2
    for char in reversed(payload):
        addend = factor * alphabet.index(char)
        total += addend // base + addend % base
        factor = 1 if factor == 2 else 2
    return alphabet[(base - total % base) % base]


def has_valid_check(code: str, code_format: CodeFormat) -> bool:
    """True when `code` has this format's prefix and length and its check character agrees."""
    if len(code) != code_format.total_length or not code.startswith(code_format.prefix):
        return False
    body = code[len(code_format.prefix) :]
    if not set(body) <= set(code_format.alphabet):
        return False
    return check_character(body[:-1], code_format.alphabet) == body[-1]


def _symbols(alphabet: str, wanted: int) -> str:
    """`wanted` symbols drawn uniformly from `alphabet` with the CSPRNG, in bulk: bytes at or
    above the largest multiple of the alphabet size are dropped, so no symbol is favoured."""
    base = len(alphabet)
    limit = 256 - 256 % base
    drawn: list[str] = []
    while len(drawn) < wanted:
        chunk = secrets.token_bytes((wanted - len(drawn)) * 256 // limit + 16)
        drawn.extend(alphabet[byte % base] for byte in chunk if byte < limit)
    return "".join(drawn[:wanted])


def generate(code_format: CodeFormat, count: int) -> list[str]:
    """`count` distinct codes. Uniqueness across the account is the database's job."""
    alphabet, length = code_format.alphabet, code_format.length
    codes: set[str] = set()
    while len(codes) < count:
        missing = count - len(codes)
        stream = _symbols(alphabet, missing * length)
        for start in range(0, missing * length, length):
            body = stream[start : start + length]
            codes.add(code_format.prefix + body + check_character(body, alphabet))
    return list(codes)


def normalise(raw: str) -> str:
    """What a cashier typed or a scanner read, in the canonical spelling of generated codes:
    upper case, without spaces, dashes, dots or underscores."""
    return raw.strip().translate(_SEPARATORS).upper()


def mask(code: str) -> str:
    """Enough to recognise a code on a receipt or in a log, not to use it."""
    return "…" + code[-4:] if len(code) > 6 else "…"
