from __future__ import annotations

from loyalty.common.errors import InvalidRequest


class InvalidTiers(InvalidRequest):
    code = 41285
    title = "Некорректные уровни программы"
