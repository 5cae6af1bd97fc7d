"""Back-office failures, rendered as problem details under /api/v1."""

from __future__ import annotations

import uuid

from loyalty.common.errors import DomainError, InvalidRequest, NotFound


class CustomerNotFound(NotFound):
    code = 40480

    def __init__(self, customer_id: uuid.UUID, parameter: str = "customer_id") -> None:
        super().__init__(f"Покупатель {customer_id} не найден.", parameter=parameter)


class CustomerClosed(DomainError):
    http_status = 409
    code = 40980
    title = "Покупатель закрыт"

    def __init__(self, status: str, parameter: str = "customer_id") -> None:
        why = "объединён с другим покупателем" if status == "merged" else "его данные удалены"
        super().__init__(f"Покупатель {why}; изменить его нельзя.", parameter=parameter)


class CardTaken(DomainError):
    http_status = 409
    code = 40981
    title = "Карта уже выдана"

    def __init__(self, parameter: str = "cardNumber") -> None:
        super().__init__("Эта карта уже выдана другому покупателю.", parameter=parameter)


class CardRetired(DomainError):
    http_status = 409
    code = 40984
    title = "Карта заменена"

    def __init__(self, parameter: str = "cardNumber") -> None:
        super().__init__(
            "Эта карта заменена и больше не действует; выдайте другую.", parameter=parameter
        )


class PointsOverdraft(DomainError):
    http_status = 409
    code = 40982
    title = "Недостаточно баллов"

    def __init__(self, available_points: int, requested_points: int) -> None:
        super().__init__(
            f"Недостаточно баллов: доступно {available_points}, запрошено {requested_points}.",
            parameter="points",
        )


class InvalidCustomerField(InvalidRequest):
    code = 41281


class SameCustomer(InvalidRequest):
    code = 41282

    def __init__(self, parameter: str) -> None:
        super().__init__("Укажите другого покупателя, не этого же.", parameter=parameter)


class IdempotencyKeyRequired(InvalidRequest):
    code = 41283

    def __init__(self) -> None:
        super().__init__(
            "Передайте заголовок Idempotency-Key: повтор с тем же ключом не проведёт операцию"
            " дважды.",
            parameter="Idempotency-Key",
        )
