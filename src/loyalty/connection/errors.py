from __future__ import annotations

from loyalty.common.errors import BusinessRuleViolation, IdempotencyConflict


class SolutionNotInstalled(BusinessRuleViolation):
    code = 41271

    def __init__(self) -> None:
        super().__init__(
            "Решение не установлено на аккаунте МоегоСклада или приостановлено:"
            " подключить программу лояльности нельзя."
        )


class ConnectionInProgress(IdempotencyConflict):
    code = 40971
    title = "Подключение уже выполняется"

    def __init__(self) -> None:
        super().__init__("Программа лояльности уже подключается. Подождите минуту.")
