from __future__ import annotations

from loyalty.common.errors import BusinessRuleViolation, IdempotencyConflict


class NoPendingToken(BusinessRuleViolation):
    code = 41220

    def __init__(self) -> None:
        super().__init__("Нет нового ключа, ожидающего подтверждения. Сначала выпустите его.")


class MoySkladAccountTaken(IdempotencyConflict):
    code = 40910

    def __init__(self, moysklad_account_id: str) -> None:
        super().__init__(f"Аккаунт МоегоСклада {moysklad_account_id} уже подключён.")
