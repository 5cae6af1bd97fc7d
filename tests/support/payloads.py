"""LoyaltyAPI bodies shaped like the MoySklad documentation examples."""

from __future__ import annotations

import uuid
from typing import Any

API = "https://api.moysklad.ru/api/remap/1.2/entity"
STORE_ID = "2b5eb22f-139e-11e6-9464-e4de00000073"


def new_id() -> str:
    return str(uuid.uuid4())


def store(store_id: str = STORE_ID) -> dict[str, Any]:
    return {"meta": {"href": f"{API}/retailstore/{store_id}", "id": store_id}, "name": "Магазин №1"}


def meta(kind: str, entity_id: str) -> dict[str, str]:
    return {"href": f"{API}/{kind}/{entity_id}", "id": entity_id}


def counterparty(ms_id: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"retailStore": store(), "name": "Иванов Иван Иванович"}
    if ms_id is not None:
        body["meta"] = meta("counterparty", ms_id)
    body.update(fields)
    return body


def agent(ms_id: str) -> dict[str, Any]:
    return {"meta": meta("counterparty", ms_id), "name": "Иванов Иван Иванович"}


def position(
    product_id: str = "9c56720c-e8a7-4fdc-aea4-7104f28207be",
    quantity: Any = 1,
    price: Any = 100,
    *,
    sn: list[str] | None = None,
    pack: dict[str, Any] | None = None,
    discounted_price: Any | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "assortment": {
            "meta": meta("product", product_id) | {"idType": "native", "type": "product"}
        },
        "quantity": quantity,
        "price": price,
    }
    if sn is not None:
        item["sn"] = [
            {"meta": {"href": f"{API}/sn/{name}", "id": new_id()}, "name": name} for name in sn
        ]
    if pack is not None:
        item["pack"] = pack
    if discounted_price is not None:
        item["discountedPrice"] = discounted_price
    return item


def recalc(
    ms_id: str | None,
    positions: list[dict[str, Any]],
    *,
    spending: bool = False,
    preferred: Any | None = None,
    preferred_in_bonus_program: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "retailStore": store(),
        "positions": positions,
        "bonusProgram": {"transactionType": "SPENDING" if spending else "EARNING"},
    }
    if ms_id is not None:
        body["agent"] = agent(ms_id)
    if preferred is not None:
        if preferred_in_bonus_program:
            body["bonusProgram"]["preferredBonusToSpend"] = preferred
        else:
            body["preferredBonusToSpend"] = preferred
    return body


def sale_from_recalc(
    sale_id: str | None, ms_id: str | None, answer: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """What the till commits after a recalc: the priced positions and the points it showed."""
    positions = [
        {
            "assortment": {"meta": item["assortment"]["meta"]},
            "quantity": item["quantity"],
            "price": item["price"],
            "discountPercent": item["discountPercent"],
            "discountedPrice": item["discountedPrice"],
        }
        for item in answer["positions"]
    ]
    bonus = answer["bonusProgram"]
    body: dict[str, Any] = {
        "retailStore": store(),
        "name": "00001",
        "moment": "2026-11-22 10:00:00",
        "meta": meta("retaildemand", sale_id) if sale_id else {"href": "", "id": ""},
        "positions": positions,
        "bonusProgram": {
            "bonusValueToSpend": bonus["bonusValueToSpend"],
            "bonusValueToEarn": bonus["bonusValueToEarn"],
        },
        "cashSum": 0,
        "noCashSum": 0,
    }
    if ms_id is not None:
        body["agent"] = agent(ms_id)
    body.update(extra)
    return body


def sale(
    sale_id: str | None,
    ms_id: str | None,
    positions: list[dict[str, Any]],
    *,
    spend: Any = 0,
    earn: Any = 0,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "retailStore": store(),
        "name": "00001",
        "moment": "2026-11-22 10:00:00",
        "meta": meta("retaildemand", sale_id) if sale_id else {"href": "", "id": ""},
        "positions": positions,
        "bonusProgram": {"bonusValueToSpend": spend, "bonusValueToEarn": earn},
    }
    if ms_id is not None:
        body["agent"] = agent(ms_id)
    body.update(extra)
    return body


def sales_return(
    return_id: str | None,
    sale_id: str | None,
    positions: list[dict[str, Any]],
    *,
    ms_id: str | None = None,
    agent_style: str = "flat",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "retailStore": store(),
        "name": "00001",
        "moment": "2026-11-23 12:00:00",
        "meta": meta("retailsalesreturn", return_id) if return_id else {"href": "", "id": ""},
        "demand": {"meta": meta("retaildemand", sale_id) if sale_id else {"href": "", "id": ""}},
        "positions": positions,
        "cashSum": 0,
        "noCashSum": 0,
    }
    if ms_id is None:
        body["agent"] = {}
    elif agent_style == "flat":
        body["agent"] = meta("counterparty", ms_id)
    else:
        body["agent"] = {"meta": meta("counterparty", ms_id)}
    body.update(extra)
    return body
