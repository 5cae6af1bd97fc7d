from __future__ import annotations

from typing import ClassVar

from loyalty.common.errors import BusinessRuleViolation, InvalidRequest, NotFound


class CustomerNotFound(NotFound):
    code = 40401
    title = "Покупатель не найден"

    def __init__(self, parameter: str = "meta.id") -> None:
        super().__init__(
            "Покупатель не участвует в программе лояльности. Зарегистрируйте его на кассе.",
            parameter=parameter,
        )


class RegistrationVerificationRequired(BusinessRuleViolation):
    """The one code MoySklad acts on: the till then asks for a code (spec §1.4)."""

    code = 28001
    title = "Необходимо подтверждение создания покупателя."

    def __init__(self) -> None:
        super().__init__("Покупатель должен подтвердить свои данные через код.")


class CardNumberTaken(InvalidRequest):
    code = 41230

    def __init__(self) -> None:
        super().__init__(
            "Эта дисконтная карта уже выдана другому покупателю. Проверьте номер карты.",
            parameter="discountCardNumber",
        )


class CardNumberRetired(InvalidRequest):
    code = 41235

    def __init__(self) -> None:
        super().__init__(
            "Эта дисконтная карта заменена и больше не действует. Выдайте покупателю новую карту.",
            parameter="discountCardNumber",
        )


class CustomerIdentityMissing(InvalidRequest):
    code = 41231

    def __init__(self) -> None:
        super().__init__(
            "Не указан идентификатор покупателя (meta.id или syncId).", parameter="meta.id"
        )


class CustomerAmbiguous(InvalidRequest):
    code = 41232

    def __init__(self, count: int) -> None:
        super().__init__(
            f"Под это описание подходят {count} покупателя; укажите идентификатор или номер карты.",
            parameter="customer",
        )


class ZeroAdjustment(InvalidRequest):
    code = 41233

    def __init__(self) -> None:
        super().__init__("Корректировка должна быть ненулевой.", parameter="points")


class ReasonRequired(InvalidRequest):
    code = 41234

    def __init__(self) -> None:
        super().__init__("Укажите причину корректировки.", parameter="reason")


class CustomerBlocked(BusinessRuleViolation):
    """A blocked, merged or erased customer neither earns nor spends at the till."""

    code = 41280
    title = "Покупатель заблокирован"

    REASONS: ClassVar[dict[str, str]] = {
        "blocked": "Покупатель заблокирован в программе лояльности: баллы не начисляются и не"
        " списываются. Продайте без списания баллов.",
        "merged": "Карта покупателя закрыта: он объединён с другим покупателем. Найдите"
        " покупателя заново по телефону или новой карте.",
        "erased": "Данные покупателя удалены по его просьбе: баллы не начисляются и не"
        " списываются.",
    }

    def __init__(self, status: str, parameter: str | None = None) -> None:
        super().__init__(self.REASONS.get(status, self.REASONS["blocked"]), parameter=parameter)
