from __future__ import annotations

from loyalty.common.errors import InvalidRequest, ServiceUnavailable, TooManyRequests


class CodeRequestedTooSoon(TooManyRequests):
    code = 42901

    def __init__(self, seconds_left: int) -> None:
        super().__init__(
            f"Код уже отправлен. Повторно запросить код можно через {seconds_left} с.",
            parameter="phone",
            headers={"Retry-After": str(seconds_left)},
        )
        self.seconds_left = seconds_left


class DailyCodeLimitReached(TooManyRequests):
    code = 42902

    def __init__(self, seconds_left: int) -> None:
        super().__init__(
            "Превышено число кодов для этого номера за сутки."
            " Попробуйте завтра или подтвердите покупателя иначе.",
            parameter="phone",
            headers={"Retry-After": str(seconds_left)},
        )


class StoreCodeLimitReached(TooManyRequests):
    code = 42903

    def __init__(self, seconds_left: int) -> None:
        super().__init__(
            "Превышено число кодов подтверждения для этой точки продаж за сутки."
            " Обратитесь к администратору программы лояльности.",
            parameter="retailStore",
            headers={"Retry-After": str(seconds_left)},
        )


class PhoneRequired(InvalidRequest):
    code = 41240

    def __init__(self) -> None:
        super().__init__(
            "Не указан номер телефона покупателя для отправки кода.", parameter="phone"
        )


class CodeDeliveryFailed(ServiceUnavailable):
    code = 50301

    def __init__(self) -> None:
        super().__init__("Не удалось отправить код покупателю. Повторите запрос через минуту.")
