from __future__ import annotations

from loyalty.common.errors import InvalidRequest, NotFound


class AccountNotFound(NotFound):
    code = 40402

    def __init__(self, account_id: object) -> None:
        super().__init__(f"Аккаунт {account_id} не найден.")


class InvalidProgramSetting(InvalidRequest):
    code = 41210
