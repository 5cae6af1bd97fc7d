"""Checking MoySklad's HS256 tokens on Vendor API calls (spec §2.1, MoySklad → developer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from loyalty.vendor.errors import (
    VendorTokenExpired,
    VendorTokenInvalid,
    VendorTokenMissing,
)

MAX_LIFETIME_SECONDS = 300  # MoySklad's own cap on a token's life
CLOCK_SKEW_SECONDS = 30
MAX_JTI_LENGTH = 255


@dataclass(frozen=True)
class VerifiedToken:
    jti: str
    # Until then the jti must be remembered: later, the token is refused as expired anyway.
    remember_until: datetime


def verify_vendor_token(
    authorization: str | None, *, secret_key: str, now: datetime
) -> VerifiedToken:
    """Signature (HS256 only), `iat` not in the future, not past `exp` (capped at iat + 300 s),
    a usable `jti`. Replays are checked by the caller against stored jti values."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise VendorTokenMissing()
    try:
        claims = jwt.decode(
            token.strip(),
            secret_key,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise VendorTokenInvalid("неверная подпись") from exc
    except jwt.PyJWTError as exc:
        raise VendorTokenInvalid("токен повреждён или подписан не HS256") from exc
    issued_at = claims.get("iat")
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float):
        raise VendorTokenInvalid("нет iat")
    expires_at = claims.get("exp", issued_at + MAX_LIFETIME_SECONDS)
    if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        raise VendorTokenInvalid("exp не число")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise VendorTokenInvalid("нет jti")
    skew = timedelta(seconds=CLOCK_SKEW_SECONDS)
    issued = datetime.fromtimestamp(issued_at, UTC)
    expires = datetime.fromtimestamp(min(expires_at, issued_at + MAX_LIFETIME_SECONDS), UTC)
    if issued > now + skew:
        raise VendorTokenInvalid("iat в будущем")
    if expires + skew < now:
        raise VendorTokenExpired()
    return VerifiedToken(jti=jti, remember_until=expires + skew)
