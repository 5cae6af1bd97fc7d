"""Failures of calls to MoySklad (apps-api and JSON API) and of our own solution settings."""

from __future__ import annotations

from typing import Any

from loyalty.common.errors import BusinessRuleViolation, DomainError, ServiceUnavailable


class MoySkladRejected(DomainError):
    """MoySklad answered 4xx: the request was refused and will not succeed as it is."""

    http_status = 502
    code = 50270
    title = "МойСклад отклонил запрос"

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {}
        raw_code = first.get("code")
        self.status = status
        self.moysklad_code: int | None = raw_code if isinstance(raw_code, int) else None
        self.detail = str(first.get("error") or first.get("error_message") or f"HTTP {status}")
        suffix = f", код {self.moysklad_code}" if self.moysklad_code is not None else ""
        super().__init__(f"МойСклад ответил {status}{suffix}: {self.detail}")


class MoySkladUnavailable(ServiceUnavailable):
    """No answer, a timeout or 5xx after every retry: the outcome of a write is unknown."""

    code = 50370

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"МойСклад не ответил: {detail}. Повторите позже.")


class SolutionNotConfigured(ServiceUnavailable):
    code = 50371

    def __init__(self, *missing: str) -> None:
        super().__init__(
            "Сервис не настроен как решение МоегоСклада: задайте " + ", ".join(missing) + "."
        )


class StoredTokenUnreadable(ServiceUnavailable):
    code = 50372

    def __init__(self) -> None:
        super().__init__(
            "Сохранённый ключ МоегоСклада не расшифровывается текущими ключами шифрования"
            " (LOYALTY_MOYSKLAD_TOKEN_ENCRYPTION_KEYS)."
        )


class NoJsonApiAccess(BusinessRuleViolation):
    code = 41270

    def __init__(self) -> None:
        super().__init__(
            "Нет ключа доступа к JSON API МоегоСклада: решение приостановлено или удалено."
            " Установите или возобновите решение."
        )
