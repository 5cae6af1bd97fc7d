"""CareCloud errors: `{"error": {"type", "exception", "title", "detail"}}`."""

from __future__ import annotations

from typing import Any

from loyalty.common.errors import DomainError


def carecloud_shape(error: DomainError, path: str) -> tuple[dict[str, Any], str]:
    return {
        "error": {
            "type": f"urn:loyalty:error:{error.code}",
            "exception": type(error).__name__,
            "title": error.title,
            "detail": error.message,
        }
    }, "application/json"
