"""Typed domain errors. Rendered in MoySklad's error envelope by `common.error_handlers`.

Services raise these; routers never build HTTP errors themselves. Each class fixes the HTTP
status and a stable integer `code`. Only 28001 has a meaning for MoySklad; the others let
operators and tests tell failures apart (999 is the generic code of the MoySklad examples).
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """An expected, operational failure with a message a cashier can act on (in Russian)."""

    http_status: ClassVar[int] = 409
    code: ClassVar[int] = 999
    title: ClassVar[str] = "Ошибка обработки запроса"
    # True when the request's writes must still be committed (see db/session.py).
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.headers = headers or {}


class InvalidRequest(DomainError):
    http_status = 412
    code = 999
    title = "Некорректный запрос"


class Unauthorized(DomainError):
    http_status = 401
    code = 40100
    title = "Ошибка авторизации"

    def __init__(self) -> None:
        super().__init__(
            "Неверный или отсутствующий ключ доступа к системе лояльности. "
            "Переподключите программу лояльности в настройках решения."
        )


class NotFound(DomainError):
    http_status = 404
    code = 40400
    title = "Объект не найден"


class IdempotencyConflict(DomainError):
    http_status = 409
    code = 40900
    title = "Документ уже проведён с другим содержимым"


class BusinessRuleViolation(DomainError):
    """A well-formed request that the program rules refuse (412, as in MoySklad's examples)."""

    http_status = 412
    code = 41200
    title = "Операция отклонена программой лояльности"


class PayloadTooLarge(DomainError):
    http_status = 413
    code = 41300
    title = "Слишком большой запрос"


class UnsupportedMediaType(DomainError):
    http_status = 415
    code = 41500
    title = "Неподдерживаемый формат запроса"


class TooManyRequests(DomainError):
    http_status = 429
    code = 42900
    title = "Слишком частые запросы"


class ServiceUnavailable(DomainError):
    http_status = 503
    code = 50300
    title = "Система лояльности временно недоступна"


class Overloaded(ServiceUnavailable):
    """Shed at admission: the request never started, so it is safe to send again at once."""

    code = 50301
