"""Report errors."""

from __future__ import annotations

from loyalty.common.errors import InvalidRequest, NotFound


class InvalidReportPeriod(InvalidRequest):
    """A report period that is reversed or longer than the service answers in one request."""

    title = "Некорректный период отчёта"


class ReportAccountNotFound(NotFound):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"Аккаунт {account_id} не найден", parameter="account")
