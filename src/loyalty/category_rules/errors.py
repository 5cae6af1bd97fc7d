from __future__ import annotations

from loyalty.common.errors import InvalidRequest


class InvalidCategoryRules(InvalidRequest):
    code = 41286
    title = "Некорректные правила категорий"
