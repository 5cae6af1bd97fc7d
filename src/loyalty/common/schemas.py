"""Wire-format building blocks shared by the LoyaltyAPI features."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, Strict


def decimal_as_json_number(value: Decimal) -> int | float:
    """Render a money, quantity or percent Decimal as a JSON number, never a string.

    Values reaching the wire have at most 3 decimals and at most 13 significant digits, so the
    shortest round-trip representation of the nearest double prints exactly the same digits
    (tests/common/test_wire_numbers.py proves this over the whole range). All arithmetic stays
    in Decimal; this is only the text encoding, the same one FastAPI applies to Decimals.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value)


WireDecimal = Annotated[
    Decimal,
    PlainSerializer(decimal_as_json_number, return_type=int | float, when_used="json"),
]


class WireModel(BaseModel):
    """Base for LoyaltyAPI bodies: camelCase as MoySklad sends it, unknown fields tolerated."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="ignore",
        str_max_length=4096,
        allow_inf_nan=False,
    )


class EchoModel(BaseModel):
    """An object MoySklad expects back unchanged (assortment, pack, serial numbers, agent)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, str_max_length=4096)


class Meta(EchoModel):
    href: str | None = Field(default=None, max_length=2048)
    id: str | None = Field(default=None, max_length=255)


class RetailStoreRef(WireModel):
    meta: Meta
    name: str | None = None

    @property
    def store_id(self) -> str | None:
        return self.meta.id or None


def dump_echo(model: BaseModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class ErrorItem(BaseModel):
    error: str
    parameter: str | None = None
    code: int
    error_message: str


class ErrorEnvelope(BaseModel):
    """MoySklad's error shape (spec §1.3), used by every LoyaltyAPI failure."""

    errors: list[ErrorItem]


_ERROR_DESCRIPTIONS = {
    401: "Неверный или отсутствующий ключ доступа",
    404: "Покупатель или документ не найден",
    409: "Документ уже проведён с другим содержимым",
    412: "Некорректный запрос или операция отклонена правилами программы",
    413: "Слишком большой запрос",
    415: "Тело запроса не JSON",
    429: "Слишком частые запросы",
    503: "Система лояльности временно недоступна; повторите",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error envelope."""
    chosen = statuses or tuple(_ERROR_DESCRIPTIONS)
    return {
        status: {"model": ErrorEnvelope, "description": _ERROR_DESCRIPTIONS[status]}
        for status in chosen
    }


class ProblemField(BaseModel):
    parameter: str | None
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every operator API failure is answered."""

    type: str
    title: str
    status: int
    detail: str = Field(description="What went wrong and what to do, in Russian.")
    instance: str
    code: int
    parameter: str | None = None
    errors: list[ProblemField] | None = None


_PROBLEMS = {
    401: "Неверный или отсутствующий ключ оператора",
    403: "У ключа недостаточно прав",
    404: "Объект не найден",
    409: "Конфликт с текущим состоянием: недостаточно баллов, значение занято, объект закрыт"
    " или ключ идемпотентности использован с другим запросом",
    412: "Некорректный запрос",
    413: "Слишком большой запрос",
    415: "Тело запроса не JSON",
    428: "Нужен заголовок Idempotency-Key",
    429: "Слишком частые запросы",
    503: "Система временно недоступна; повторите",
}

# `responses=` of every operator API route: each failure is a documented problem.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    for status, description in _PROBLEMS.items()
}


_ISO_DATE_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_8601_only(value: object) -> object:
    # Pydantic would read 0.5 or "0.5" as a Unix timestamp; a client means a date and time.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE_PREFIX.match(value)):
        return value
    raise ValueError("ожидается дата и время в формате ISO 8601, например 2026-12-31T23:59:59Z")


# A moment in a request (query or body): ISO 8601 text only.
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]
# A yes/no in a request body: JSON true or false only, not 1 or "yes".
StrictFlag = Annotated[bool, Strict()]
