from __future__ import annotations

from loyalty.common.errors import TooManyRequests


class TooManyFailedLookups(TooManyRequests):
    code = 42961
    title = "Слишком много неверных номеров"
    keeps_changes = True  # the lockout that was just set must be committed

    def __init__(self, seconds_left: int) -> None:
        minutes = max(1, (seconds_left + 59) // 60)
        super().__init__(
            "Слишком много попыток ввести несуществующий номер купона или сертификата."
            f" Повторите через {minutes} мин.",
            headers={"Retry-After": str(seconds_left)},
        )
        self.seconds_left = seconds_left


class RateLimited(TooManyRequests):
    code = 42962
    title = "Превышен лимит запросов"

    def __init__(self, seconds_left: int) -> None:
        super().__init__(
            f"Превышен лимит запросов. Повторите через {seconds_left} с.",
            headers={"Retry-After": str(seconds_left)},
        )
        self.seconds_left = seconds_left
