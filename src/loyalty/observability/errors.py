"""Errors of the operator endpoints."""

from __future__ import annotations

from loyalty.common.errors import DomainError


class MetricsTokenInvalid(DomainError):
    http_status = 401
    code = 40130
    title = "Ошибка авторизации"

    def __init__(self) -> None:
        super().__init__(
            "Для /metrics нужен заголовок Authorization: Bearer <LOYALTY_METRICS_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
