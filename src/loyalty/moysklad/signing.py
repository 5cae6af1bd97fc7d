"""One-time HS256 tokens for our calls to apps-api (spec §2.1, developer → MoySklad)."""

from __future__ import annotations

import secrets
import time

import jwt

# MoySklad caps the lifetime at 300 s; every call mints a fresh token anyway.
TOKEN_LIFETIME_SECONDS = 60


def mint_app_token(app_uid: str, secret_key: str) -> str:
    """`sub` = app uid, `iat`, `exp` ≤ iat + 300 and a random, never reused `jti`. Wall-clock
    time on purpose: MoySklad checks it against its own clock."""
    issued_at = int(time.time())
    payload = {
        "sub": app_uid,
        "iat": issued_at,
        "exp": issued_at + TOKEN_LIFETIME_SECONDS,
        "jti": secrets.token_hex(32),
    }
    return jwt.encode(payload, secret_key, algorithm="HS256")
