"""Vendor API failures (MoySklad calls us). 401s carry `WWW-Authenticate: Bearer`."""

from __future__ import annotations

from loyalty.common.errors import DomainError, IdempotencyConflict, NotFound


class VendorAuthenticationFailed(DomainError):
    http_status = 401
    code = 40170
    title = "Ошибка авторизации Vendor API"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class VendorTokenMissing(VendorAuthenticationFailed):
    code = 40171

    def __init__(self) -> None:
        super().__init__("Нет заголовка Authorization: Bearer <JWT>.")


class VendorTokenInvalid(VendorAuthenticationFailed):
    code = 40172

    def __init__(self, reason: str) -> None:
        super().__init__(f"JWT не принят: {reason}.")


class VendorTokenExpired(VendorAuthenticationFailed):
    code = 40173

    def __init__(self) -> None:
        super().__init__("Срок действия JWT истёк.")


class VendorTokenReplayed(VendorAuthenticationFailed):
    code = 40174

    def __init__(self) -> None:
        super().__init__("JWT с этим jti уже использован.")


class UnknownApplication(NotFound):
    code = 40470

    def __init__(self, app_id: str) -> None:
        super().__init__(f"Решение {app_id} не обслуживается этим сервисом.", parameter="appId")


class VendorRequestConflict(IdempotencyConflict):
    code = 40970

    def __init__(self) -> None:
        super().__init__(
            "Запрос с этим X_Lognex_RequestId уже обработан, а новый отличается от него."
        )
