"""Revenue Monster errors: `{"error": {"code": "VOUCHER_NOT_FOUND", "message": …}}`."""

from __future__ import annotations

from typing import Any

from loyalty.common.errors import DomainError

CODES_BY_STATUS = {
    401: "UNAUTHORIZED",
    403: "INSUFFICIENT_PERMISSION_LEVEL",
    404: "VOUCHER_NOT_FOUND",
    413: "INVALID_REQUEST",
    415: "INVALID_REQUEST",
    429: "EXCEEDED_LIMIT",
    500: "INTERNAL_ERROR",
    503: "TEMPORARY_UNAVAILABLE",
}


def revenue_monster_shape(error: DomainError, path: str) -> tuple[dict[str, Any], str]:
    code = CODES_BY_STATUS.get(error.http_status, "INVALID_REQUEST")
    if error.http_status == 404 and "/voucher/" not in path:
        code = "API_ENDPOINT_NOT_FOUND"
    return {"error": {"code": code, "message": error.message, "debug": str(error.code)}}, (
        "application/json"
    )
