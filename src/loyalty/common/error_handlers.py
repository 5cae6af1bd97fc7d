"""One place renders every failure, never a bare 500 page.

The shape is chosen by path: MoySklad's envelope `{"errors":[{"error","parameter","code",
"error_message"}]}` (spec §1.3) by default, RFC 9457 problem details for the operator API, and
each compatibility API's own shape under its prefix (the longest matching prefix wins).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from loyalty.common.errors import DomainError, InvalidRequest, ServiceUnavailable
from loyalty.db.errors import sqlstate
from loyalty.observability.pii import mask_text

logger = logging.getLogger("loyalty.errors")

_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": "Не указан обязательный параметр",
    "json_invalid": "Тело запроса не является корректным JSON",
    "model_attributes_type": "Ожидается объект",
    "model_type": "Ожидается объект",
    "dict_type": "Ожидается объект",
    "list_type": "Ожидается массив",
    "string_type": "Ожидается строка",
    "int_type": "Ожидается целое число",
    "int_parsing": "Ожидается целое число",
    "decimal_type": "Ожидается число",
    "decimal_parsing": "Ожидается число",
    "float_type": "Ожидается число",
    "finite_number": "Число должно быть конечным",
    "bool_type": "Ожидается логическое значение",
    "bool_parsing": "Ожидается логическое значение",
    "enum": "Недопустимое значение",
    "literal_error": "Недопустимое значение",
    "greater_than": "Значение слишком мало",
    "greater_than_equal": "Значение не может быть отрицательным",
    "less_than": "Значение слишком велико",
    "less_than_equal": "Значение слишком велико",
    "string_too_long": "Строка слишком длинная",
    "string_too_short": "Строка не может быть пустой",
    "too_long": "Слишком много элементов",
    "too_short": "Требуется хотя бы один элемент",
    "decimal_max_places": "Слишком много знаков после запятой",
    "decimal_max_digits": "Слишком большое число",
    "uuid_parsing": "Ожидается идентификатор в формате UUID",
    "uuid_type": "Ожидается идентификатор в формате UUID",
    "datetime_from_date_parsing": "Ожидается дата в формате ГГГГ-ММ-ДД ЧЧ:ММ:СС",
    "datetime_parsing": "Ожидается дата в формате ГГГГ-ММ-ДД ЧЧ:ММ:СС",
    "date_from_datetime_parsing": "Ожидается дата в формате ГГГГ-ММ-ДД",
}


def parameter_path(location: Sequence[int | str]) -> str | None:
    """('body', 'positions', 0, 'price') → 'positions[0].price'."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "json-or-python", "lax-or-strict")):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or None


def error_body(error: DomainError) -> dict[str, Any]:
    item: dict[str, Any] = {
        "error": error.title,
        "code": error.code,
        "error_message": error.message,
    }
    if error.parameter:
        item["parameter"] = error.parameter
    return {"errors": [item]}


# (error, request path) → (JSON body, media type)
ErrorShape = Callable[[DomainError, str], tuple[dict[str, Any], str]]


def moysklad_shape(error: DomainError, path: str) -> tuple[dict[str, Any], str]:
    return error_body(error), "application/json"


def problem_details_shape(error: DomainError, path: str) -> tuple[dict[str, Any], str]:
    """RFC 9457 problem details, with our stable `code` and the offending `parameter`."""
    body: dict[str, Any] = {
        "type": f"urn:loyalty:error:{error.code}",
        "title": error.title,
        "status": error.http_status,
        "detail": error.message,
        "instance": path,
        "code": error.code,
    }
    if error.parameter:
        body["parameter"] = error.parameter
    if isinstance(error, RequestInvalid) and len(error.problems) > 1:
        body["errors"] = [
            {"parameter": parameter, "detail": detail} for parameter, detail in error.problems
        ]
    return body, "application/problem+json"


def shape_for(shapes: Mapping[str, ErrorShape] | None, path: str) -> ErrorShape:
    best: ErrorShape = moysklad_shape
    best_length = -1
    for prefix, shape in (shapes or {}).items():
        if path.startswith(prefix) and len(prefix) > best_length:
            best, best_length = shape, len(prefix)
    return best


def render(
    error: DomainError, path: str = "", shapes: Mapping[str, ErrorShape] | None = None
) -> JSONResponse:
    body, media_type = shape_for(shapes, path)(error, path)
    return JSONResponse(
        body, status_code=error.http_status, headers=error.headers, media_type=media_type
    )


class RequestInvalid(InvalidRequest):
    """A request that failed validation; keeps every problem, not only the first."""

    def __init__(
        self, message: str, *, parameter: str | None, problems: list[tuple[str | None, str]]
    ) -> None:
        super().__init__(message, parameter=parameter)
        self.problems = problems


def _validation_message(error: Any) -> str:
    error_type = str(error.get("type", ""))
    # A ValueError raised by our own validators carries a Russian message already.
    if error_type == "value_error":
        return str(error.get("ctx", {}).get("error", error.get("msg", "")))
    return _VALIDATION_MESSAGES.get(error_type, "Некорректное значение параметра")


def _validation_error(exc: RequestValidationError) -> DomainError:
    errors = exc.errors()
    if not errors:
        return InvalidRequest("Некорректный запрос")
    problems = [
        (parameter_path(error.get("loc", ())), _validation_message(error)) for error in errors
    ]
    parameter, message = problems[0]
    return RequestInvalid(message, parameter=parameter, problems=problems)


def database_failure(exc: Exception) -> DomainError | None:
    """Classify driver failures that are the database's state, not our bug."""
    state = sqlstate(exc)
    if state in ("22021", "22P05"):
        return InvalidRequest("Данные содержат недопустимые символы. Проверьте данные на кассе.")
    if isinstance(exc, PoolTimeoutError):
        return ServiceUnavailable(
            "Система лояльности перегружена. Повторите операцию через несколько секунд."
        )
    if state == "55P03":
        return ServiceUnavailable(
            "Баланс покупателя сейчас изменяется на другой кассе. Повторите операцию."
        )
    if state in ("57014", "40001", "40P01"):
        return ServiceUnavailable(
            "Система лояльности перегружена. Повторите операцию через несколько секунд."
        )
    if state is not None and state.startswith(("08", "57P")):
        return ServiceUnavailable(
            "Нет связи с базой данных системы лояльности. Повторите операцию."
        )
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return ServiceUnavailable(
            "Нет связи с базой данных системы лояльности. Повторите операцию."
        )
    if isinstance(exc, (ConnectionError, OSError)):
        return ServiceUnavailable(
            "Нет связи с базой данных системы лояльности. Повторите операцию."
        )
    return None


def _allowed_methods(request: Request) -> list[str]:
    """Every method any route serves on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            methods |= set(route_methods)
    return sorted(methods)


def install_error_handlers(app: FastAPI, shapes: Mapping[str, ErrorShape] | None = None) -> None:
    app.state.error_shapes = dict(shapes or {})

    def answer(error: DomainError, request: Request) -> JSONResponse:
        return render(error, request.url.path, app.state.error_shapes)

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return answer(exc, request)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return answer(_validation_error(exc), request)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            error: DomainError = _RouteNotFound("Метод не найден")
        elif exc.status_code == 405:
            error = _MethodNotAllowed(
                "Метод не поддерживается для этого адреса",
                headers={"Allow": ", ".join(_allowed_methods(request))},
            )
        else:
            error = InvalidRequest(str(exc.detail))
        return answer(error, request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        classified = database_failure(exc)
        if classified is not None:
            logger.warning(
                "database unavailable",
                extra={
                    "path": mask_text(request.url.path),
                    "sqlstate": sqlstate(exc),
                    "error_type": type(exc).__name__,
                },
            )
            return answer(classified, request)
        logger.exception("unhandled error", extra={"path": mask_text(request.url.path)})
        return answer(
            _InternalError("Внутренняя ошибка системы лояльности. Повторите операцию."), request
        )

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


class _RouteNotFound(DomainError):
    http_status = 404
    code = 40404
    title = "Адрес не найден"


class _MethodNotAllowed(DomainError):
    http_status = 405
    code = 40500
    title = "Метод не поддерживается"


class _InternalError(DomainError):
    http_status = 500
    code = 50000
    title = "Внутренняя ошибка"
