"""Smart Loyalty errors in its own envelope: `{"Success": false, "Message": …}`."""

from __future__ import annotations

from typing import Any

from loyalty.common.errors import DomainError


def smart_loyalty_shape(error: DomainError, path: str) -> tuple[dict[str, Any], str]:
    return {
        "Success": False,
        "Message": error.message,
        "ErrorCode": error.code,
        "ExceptionType": type(error).__name__,
        "Data": None,
    }, "application/json"
