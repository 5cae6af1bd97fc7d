from __future__ import annotations

from loyalty.common.errors import BusinessRuleViolation, IdempotencyConflict, InvalidRequest


class SaleAlreadyRecordedWithDifferentContent(IdempotencyConflict):
    code = 40902

    def __init__(self) -> None:
        super().__init__(
            "Продажа с этим идентификатором уже проведена с другим составом. Проверьте документ.",
            parameter="meta.id",
        )


class SpendAboveProgramLimit(BusinessRuleViolation):
    code = 41202

    def __init__(self, limit_points: int) -> None:
        super().__init__(
            f"Списание превышает лимит программы для этого чека: можно не больше {limit_points}."
            " Пересчитайте чек.",
            parameter="bonusProgram.bonusValueToSpend",
        )


class SpendWithoutCustomer(BusinessRuleViolation):
    code = 41203

    def __init__(self) -> None:
        super().__init__(
            "Списание баллов невозможно: покупатель не найден в программе лояльности.",
            parameter="agent.meta.id",
        )


class SpendNotReflectedInReceipt(BusinessRuleViolation):
    code = 41204

    def __init__(self, discount_roubles: str) -> None:
        super().__init__(
            f"Скидка в чеке ({discount_roubles} руб.) меньше списываемых баллов. Пересчитайте чек.",
            parameter="bonusProgram.bonusValueToSpend",
        )


class FractionalPoints(InvalidRequest):
    code = 41205

    def __init__(self, parameter: str) -> None:
        super().__init__("Баллы списываются только целыми числами.", parameter=parameter)


class TooManyPositions(InvalidRequest):
    code = 41206

    def __init__(self, limit: int) -> None:
        super().__init__(f"В чеке больше {limit} позиций.", parameter="positions")


class DiscountedPriceAbovePrice(InvalidRequest):
    code = 41207

    def __init__(self, index: int) -> None:
        super().__init__(
            "Цена со скидкой не может быть больше цены.",
            parameter=f"positions[{index}].discountedPrice",
        )
