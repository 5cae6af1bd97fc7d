"""Ledger failures."""

from __future__ import annotations

from loyalty.common.errors import BusinessRuleViolation, IdempotencyConflict


class InsufficientPoints(BusinessRuleViolation):
    code = 41201
    title = "Недостаточно баллов"

    def __init__(
        self, *, available_points: int, requested_points: int, parameter: str | None = None
    ) -> None:
        super().__init__(
            f"Недостаточно баллов для списания: доступно {available_points}, "
            f"запрошено {requested_points}. Пересчитайте чек.",
            parameter=parameter,
        )
        self.available_points = available_points
        self.requested_points = requested_points


class LedgerKeyReused(IdempotencyConflict):
    code = 40901

    def __init__(self, key: str) -> None:
        super().__init__(f"Операция с ключом {key} уже проведена с другими параметрами.")


class VoucherUsageLimitReached(BusinessRuleViolation):
    code = 41271
    title = "Лимит использований исчерпан"

    def __init__(self, parameter: str | None = None) -> None:
        super().__init__(
            "Исчерпан лимит использований купонов этой серии (всего или для покупателя).",
            parameter=parameter,
        )
