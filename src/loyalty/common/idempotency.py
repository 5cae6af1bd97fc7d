"""Request fingerprints for idempotent writes (canonical JSON → SHA-256)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


def _canonical_value(value: Any) -> str:
    if isinstance(value, Decimal):
        # 1, 1.0 and 1.000 are the same quantity: fingerprint the value, not its spelling.
        return format(value.normalize(), "f")
    return str(value)


def request_hash(document: BaseModel) -> bytes:
    """Stable across key order and number formatting of the same document."""
    payload = document.model_dump(mode="python", by_alias=True, exclude_none=True)
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical_value
    )
    return hashlib.sha256(canonical.encode()).digest()


def fallback_document_key(*parts: str | None) -> str:
    """Key for a document whose `meta.id` is empty: a digest of store, number and moment."""
    joined = "\x1f".join(part or "" for part in parts)
    return hashlib.sha256(joined.encode()).hexdigest()
