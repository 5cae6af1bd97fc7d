from __future__ import annotations

from loyalty.common.errors import DomainError, InvalidRequest, NotFound


class OperatorUnauthorized(DomainError):
    http_status = 401
    code = 40160
    title = "Ошибка авторизации"

    def __init__(self) -> None:
        super().__init__(
            "Неверный или отсутствующий ключ API оператора. Передайте его в заголовке"
            " Authorization: Bearer <ключ>.",
            headers={"WWW-Authenticate": 'Bearer realm="loyalty"'},
        )


class OperatorForbidden(DomainError):
    http_status = 403
    code = 40360
    title = "Недостаточно прав"

    def __init__(self, required: str, actual: str) -> None:
        super().__init__(f"Для этой операции нужна роль «{required}», у ключа роль «{actual}».")


class OperatorKeyNotFound(NotFound):
    code = 40460

    def __init__(self, key_id: int) -> None:
        super().__init__(f"Ключ оператора {key_id} не найден.", parameter="key_id")


class InvalidKeyName(InvalidRequest):
    code = 41260

    def __init__(self) -> None:
        super().__init__("Название ключа — от 1 до 200 символов.", parameter="name")
