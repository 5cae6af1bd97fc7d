"""Webhook signatures: `X-Loyalty-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.

The timestamp is signed with the body so a captured request cannot be replayed later with a
fresh timestamp; receivers reject old timestamps and deduplicate by `X-Loyalty-Event-Id`.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Loyalty-Signature"
TIMESTAMP_HEADER = "X-Loyalty-Timestamp"
EVENT_ID_HEADER = "X-Loyalty-Event-Id"
EVENT_TYPE_HEADER = "X-Loyalty-Event"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
