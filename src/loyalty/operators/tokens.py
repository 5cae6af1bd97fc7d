"""Operator API keys: random, stored only as a SHA-256 digest, shown once."""

from __future__ import annotations

import secrets

from loyalty.accounts.tokens import hash_token

KEY_PREFIX = "lop_"
KEY_BYTES = 32
DISPLAY_PREFIX_LENGTH = 12


def generate_key() -> str:
    """The `lop_` prefix lets secret scanners recognise a leaked operator key."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def display_prefix(key: str) -> str:
    """Enough of the key to tell keys apart in listings, far too little to use."""
    return key[:DISPLAY_PREFIX_LENGTH]


__all__ = ["display_prefix", "generate_key", "hash_token"]
