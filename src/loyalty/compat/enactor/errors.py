"""Enactor answers failures as an outcome: `{"outcome": {"name": "Fail"}, "message": …}`."""

from __future__ import annotations

from typing import Any

from loyalty.common.errors import DomainError


def enactor_shape(error: DomainError, path: str) -> tuple[dict[str, Any], str]:
    name = "NotFound" if error.http_status == 404 else "Fail"
    body: dict[str, Any] = {"outcome": {"name": name}, "message": error.message, "code": error.code}
    if error.parameter:
        body["parameter"] = error.parameter
    return body, "application/json"
