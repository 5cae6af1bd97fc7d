"""Failures of the settings page, shown to the merchant as a page, never as JSON."""

from __future__ import annotations

from loyalty.common.errors import DomainError


class PageSessionInvalid(DomainError):
    http_status = 401
    code = 40175
    title = "Сессия недействительна"

    def __init__(self) -> None:
        super().__init__("Страница устарела. Откройте решение заново из МоегоСклада.")


class PageContextUnavailable(DomainError):
    http_status = 401
    code = 40176
    title = "Нет контекста МоегоСклада"

    def __init__(self) -> None:
        super().__init__(
            "Ссылка на страницу устарела или открыта не из МоегоСклада."
            " Откройте решение заново из МоегоСклада."
        )


class AdminOnly(DomainError):
    http_status = 403
    code = 40370
    title = "Недостаточно прав"

    def __init__(self) -> None:
        super().__init__("Изменять настройки может только администратор аккаунта МоегоСклада.")


class CrossSiteRequest(DomainError):
    http_status = 403
    code = 40371
    title = "Запрос отклонён"

    def __init__(self) -> None:
        super().__init__("Запрос пришёл не со страницы настроек решения и отклонён.")
