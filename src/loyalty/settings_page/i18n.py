"""Words of the settings page: Russian, and English for `userLocale=en_US`."""

from __future__ import annotations

from collections.abc import Callable

RU = "ru"
EN = "en"


def locale_from(user_locale: str | None) -> str:
    return EN if (user_locale or "").lower().startswith("en") else RU


TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Программа лояльности", "Loyalty program"),
    "account": ("Аккаунт", "Account"),
    "user": ("Пользователь", "User"),
    "role.admin": ("администратор", "administrator"),
    "role.viewer": ("только просмотр", "view only"),
    "read_only": (
        "Изменять настройки может только администратор аккаунта. Вы видите их без права изменения.",
        "Only an account administrator can change the settings. You see them read-only.",
    ),
    "section.connection": ("Подключение к кассам", "Connection to the tills"),
    "section.catalogue": ("Справочники МоегоСклада", "MoySklad catalogue"),
    "section.program": ("Правила программы", "Program rules"),
    "solution_status": ("Статус решения в МоёмСкладе", "Solution status in MoySklad"),
    "status.SettingsRequired": ("требуется настройка", "settings required"),
    "status.Activated": ("активно", "active"),
    "status.Suspended": ("приостановлено", "suspended"),
    "status.Uninstalled": ("удалено", "removed"),
    "loyalty.disconnected": ("не подключена", "not connected"),
    "loyalty.connecting": ("подключается…", "connecting…"),
    "loyalty.unknown": ("ответ МоегоСклада не получен", "no answer from MoySklad yet"),
    "loyalty.connected": ("подключена", "connected"),
    "loyalty.failed": ("не подключена: МойСклад отказал", "not connected: MoySklad refused"),
    "loyalty_state": ("Программа лояльности на кассах", "Loyalty program at the tills"),
    "connected_at": ("Подключена", "Connected on"),
    "loyalty_url": ("Адрес системы лояльности", "Loyalty system address"),
    "button.connect": ("Подключить к кассам", "Connect to the tills"),
    "button.reconnect": ("Переподключить с новым ключом", "Reconnect with a new key"),
    "connect.hint": (
        "МойСклад получит адрес системы лояльности и ключ доступа. Затем включите программу"
        " лояльности в разделе «Скидки» МоегоСклада.",
        "MoySklad receives the loyalty system address and an access key. Then turn the loyalty"
        " program on in MoySklad's Discounts section.",
    ),
    "button.save": ("Сохранить", "Save"),
    "button.sync": ("Обновить справочники", "Refresh the catalogue"),
    "catalogue.stores": ("Точки продаж", "Retail stores"),
    "catalogue.folders": ("Группы товаров", "Product folders"),
    "catalogue.products": ("Товары, услуги и модификации", "Products, services and variants"),
    "catalogue.synced_at": ("Обновлены", "Refreshed"),
    "catalogue.never": ("ещё не загружены", "not loaded yet"),
    "catalogue.queued": ("Обновление поставлено в очередь", "Refresh queued"),
    "catalogue.error": ("Последняя загрузка не удалась", "The last refresh failed"),
    "notice.saved": ("Настройки сохранены.", "Settings saved."),
    "notice.invalid": (
        "Настройки не сохранены: исправьте отмеченные поля.",
        "Settings not saved: correct the marked fields.",
    ),
    "notice.stale": (
        "Пока вы редактировали, настройки изменил другой пользователь. Проверьте их и сохраните"
        " ещё раз.",
        "Someone else changed the settings while you were editing. Check them and save again.",
    ),
    "notice.connected": (
        "Программа лояльности подключена к кассам.",
        "The loyalty program is connected to the tills.",
    ),
    "notice.sync_queued": (
        "Справочники обновятся в течение минуты.",
        "The catalogue will be refreshed within a minute.",
    ),
    "never": ("никогда", "never"),
    "yes": ("да", "yes"),
    "no": ("нет", "no"),
    "field.earn_percent": ("Начисление, % от оплаты деньгами", "Earning, % of the money paid"),
    "field.max_spend_percent": (
        "Списание баллами, не более % от чека",
        "Spending with points, at most % of the receipt",
    ),
    "field.earn_on_spend": (
        "Начислять баллы на чеки, частично оплаченные баллами",
        "Earn points on receipts partly paid with points",
    ),
    "field.activation_delay_days": (
        "Баллы становятся доступны через, дней",
        "Points become available after, days",
    ),
    "field.expiry_days": (
        "Баллы сгорают через, дней (пусто — не сгорают)",
        "Points expire after, days (empty: never)",
    ),
    "field.welcome_bonus_points": ("Приветственный бонус, баллов", "Welcome bonus, points"),
    "field.birthday_bonus_points": (
        "Бонус ко дню рождения, баллов (0 — нет)",
        "Birthday bonus, points (0 — off)",
    ),
    "field.birthday_window_days": (
        "Бонус ко дню рождения доступен за и после, дней",
        "Birthday bonus window before and after, days",
    ),
    "field.expiry_warning_days": (
        "Предупреждать о сгорании баллов за, дней (0 — нет)",
        "Warn about expiring points ahead, days (0 — off)",
    ),
    "field.verify_registration": (
        "Подтверждать регистрацию кодом из SMS",
        "Confirm registration with an SMS code",
    ),
    "field.verify_spend_above_points": (
        "Подтверждать кодом списание больше, баллов (пусто — не подтверждать)",
        "Ask a code to spend more than, points (empty: never)",
    ),
    "field.auto_enroll": (
        "Включать в программу покупателей МоегоСклада автоматически",
        "Enrol MoySklad customers automatically",
    ),
    "field.receipt_text": ("Текст на чеке", "Receipt text"),
    "hint.receipt_text": (
        "Подстановки: {balance}, {balance_after}, {earned}, {spent}, {pending}, {customer_name},"
        " {activation_date}.",
        "Placeholders: {balance}, {balance_after}, {earned}, {spent}, {pending}, {customer_name},"
        " {activation_date}.",
    ),
    "hint.points": ("Один балл оплачивает один рубль.", "One point pays one rouble."),
    "parse.number": ("Введите число, например 5 или 2,5", "Enter a number, e.g. 5 or 2.5"),
    "parse.whole": ("Введите целое число", "Enter a whole number"),
    # MoySklad's answers to `PUT …/loyalty`, in words a merchant can act on.
    "moysklad.2004": (
        "МойСклад не находит решение на этом аккаунте. Если решение удалено, установите его"
        " заново из каталога решений.",
        "MoySklad does not find the solution on this account. If it was removed, install it"
        " again from the solutions catalogue.",
    ),
    "moysklad.2006": (
        "МойСклад не разрешает этому решению подключать программу лояльности. Напишите в"
        " поддержку сервиса лояльности: мы исправим описание решения.",
        "MoySklad does not let this solution connect a loyalty program. Contact the loyalty"
        " service's support: we will fix the solution's description.",
    ),
    "moysklad.2007": (
        "МойСклад ещё завершает установку решения. Мы повторим подключение автоматически через"
        " минуту, или нажмите кнопку ещё раз чуть позже.",
        "MoySklad is still finishing the installation. We will retry automatically in a"
        " minute, or press the button again a little later.",
    ),
    "moysklad.rejected": (
        "МойСклад отклонил подключение",
        "MoySklad refused the connection",
    ),
    "moysklad.unknown": (
        "МойСклад не ответил вовремя. Кассы продолжают работать со старым и с новым ключом, а"
        " подключение мы повторим автоматически.",
        "MoySklad did not answer in time. The tills keep working with both the old and the new"
        " key, and we will retry the connection automatically.",
    ),
    "moysklad.status_pending": (
        "Программа подключена, но МойСклад ещё не принял статус «Активно». Мы повторим"
        " автоматически.",
        "The program is connected, but MoySklad has not accepted the status Active yet. We will"
        " retry automatically.",
    ),
    "error.title": ("Не получилось открыть настройки", "The settings could not be opened"),
    "error.session": (
        "Страница устарела. Откройте решение заново из МоегоСклада.",
        "This page has expired. Open the solution again from MoySklad.",
    ),
    "error.context": (
        "Ссылка устарела или открыта не из МоегоСклада. Откройте решение заново из МоегоСклада.",
        "The link has expired or was not opened from MoySklad. Open the solution again from"
        " MoySklad.",
    ),
    "error.admin_only": (
        "Изменять настройки может только администратор аккаунта МоегоСклада.",
        "Only an administrator of the MoySklad account can change the settings.",
    ),
    "error.cross_site": (
        "Запрос пришёл не со страницы настроек решения и отклонён.",
        "The request did not come from the solution's settings page and was refused.",
    ),
    "error.in_progress": (
        "Программа лояльности уже подключается. Подождите минуту и обновите страницу.",
        "The loyalty program is already being connected. Wait a minute and reload the page.",
    ),
    "error.unavailable": (
        "МойСклад сейчас не отвечает. Попробуйте через минуту.",
        "MoySklad is not answering right now. Try again in a minute.",
    ),
    "error.not_installed": (
        "Решение не установлено на этом аккаунте или приостановлено. Установите или возобновите"
        " его в каталоге решений МоегоСклада.",
        "The solution is not installed on this account or is suspended. Install or resume it in"
        " MoySklad's solutions catalogue.",
    ),
}

# English for the Russian validation messages of `program.service.validate_changes`, by field.
EN_FIELD_ERRORS: dict[str, str] = {
    "earn_percent": "A percent from 0 to 100 with at most two decimals",
    "max_spend_percent": "A percent from 0 to 100 with at most two decimals",
    "activation_delay_days": "From 0 to 3650 days",
    "expiry_days": "From 1 to 36500 days, or empty",
    "welcome_bonus_points": "The welcome bonus cannot be negative",
    "birthday_bonus_points": "The birthday bonus cannot be negative",
    "birthday_window_days": "From 0 to 30 days",
    "expiry_warning_days": "From 0 to 365 days",
    "verify_spend_above_points": "The threshold cannot be negative",
    "receipt_text": "At most 1000 characters, with known placeholders only",
}


def translator(locale: str) -> Callable[[str], str]:
    index = 1 if locale == EN else 0

    def translate(key: str) -> str:
        pair = TEXTS.get(key)
        return pair[index] if pair else key

    return translate
