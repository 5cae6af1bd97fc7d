"""Till tokens: random, stored only as a SHA-256 digest, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "lty_"
TOKEN_BYTES = 32


def generate_token() -> str:
    """32 random bytes, URL-safe; the prefix lets secret scanners recognise a leaked token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_matches(stored_hash: bytes, presented_token: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_token(presented_token))
