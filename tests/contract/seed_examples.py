"""The JSON examples of the MoySklad LoyaltyAPI document, verbatim (seeds/001)."""

from __future__ import annotations

from typing import Any

STORE = {
    "meta": {
        "href": "https://api.moysklad.ru/api/remap/1.2/entity/retailstore/2b5eb22f-139e-11e6-9464-e4de00000073",
        "id": "2b5eb22f-139e-11e6-9464-e4de00000073",
    },
    "name": "Магазин №1",
}

COUNTERPARTY_CREATE: dict[str, Any] = {
    "retailStore": STORE,
    "meta": {
        "href": "https://api.moysklad.ru/api/remap/1.2/entity/counterparty/276a6f50-7ffd-11e6-8a84-bae50000005",
        "id": "276a6f50-7ffd-11e6-8a84-bae50000005",
    },
    "name": "Иванов Иван Иванович",
    "discountCardNumber": "MTIzNDU2Nzg5MA",
    "phone": "+7 555 123 4568",
    "email": "email@example.com",
    "syncId": "6ebefb74-f6e3-4ef1-b155-5232a2ae396a",
    "legalFirstName": "Иванов",
    "legalMiddleName": "Иван",
    "legalLastName": "Иванович",
    "birthDate": "2023-07-14 00:00:00",
    "sex": "MALE",
    "statusCheck": "CHECKED",
}

SEARCH_RESPONSE = {
    "rows": [
        {
            "id": "2b5eb22f-139e-11e6-9464-e4de00000073",
            "msId": "276a6f50-7ffd-11e6-8a84-bae50000005",
            "name": "Иванов Иван Иванович",
            "discountCardNumber": "MTIzNDU2Nzg5MA",
            "phone": "+7 555 123 4567",
            "email": "email@example.com",
            "legalFirstName": "Иванов",
            "legalMiddleName": "Иванович",
            "legalLastName": "Иванов",
            "birthDate": "2023-07-14 00:00:00",
            "sex": "MALE",
        }
    ]
}

COUNTERPARTY_DETAIL: dict[str, Any] = {
    "retailStore": STORE,
    "meta": {
        "href": "https://api.moysklad.ru/api/remap/1.2/entity/counterparty/276a6f50-7ffd-11e6-8a84-bae50000005",
        "id": "276a6f50-7ffd-11e6-8a84-bae50000005",
    },
    "name": "Иванов Иван Иванович",
    "discountCardNumber": "MTIzNDU2Nzg5MA",
    "phone": "+7 555 123 4567",
    "email": "email@example.com",
    "legalFirstName": "Иванов",
    "legalMiddleName": "Иванович",
    "legalLastName": "Иванов",
    "birthDate": "2023-07-14 00:00:00",
    "sex": "MALE",
}

REGISTRATION_VERIFICATION_REQUIRED = {
    "errors": [
        {
            "error": "Необходимо подтверждение создания покупателя.",
            "code": 28001,
            "error_message": "Покупатель должен подтвердить свои данные через код.",
        }
    ]
}

COUNTERPARTY_VERIFY: dict[str, Any] = {
    "retailStore": STORE,
    "meta": {
        "href": "https://api.moysklad.ru/api/posap/1.0/entity/counterparty/syncid/276a6f50-7ffd-11e6-8a84-bae50000005"
    },
    "name": "Ромашкова Варвара Никитична",
    "discountCardNumber": "09716398",
    "phone": "+79011231122",
    "email": "romashkova@fmail.com",
    "legalFirstName": "Варвара",
    "legalMiddleName": "Никитична",
    "legalLastName": "Ромашкова",
    "birthDate": "1992-08-01 00:00:00",
    "sex": "FEMALE",
}

RECALC_REQUEST: dict[str, Any] = {
    "retailStore": STORE,
    "agent": {
        "meta": {
            "href": "https://api.moysklad.ru/api/remap/1.2/entity/counterparty/276a6f50-7ffd-11e6-8a84-bae50000005",
            "id": "276a6f50-7ffd-11e6-8a84-bae50000005",
        },
        "name": "Иванов Иван Иванович",
        "discountCardNumber": "MTIzNDU2Nzg5MA",
        "phone": "+7 555 123 4567",
        "email": "email@example.com",
        "legalFirstName": "Иванов",
        "legalMiddleName": "Иван",
        "legalLastName": "Иванович",
        "sex": "MALE",
        "birthDate": "2023-07-14 00:00:00",
    },
    "positions": [
        {
            "assortment": {
                "meta": {
                    "href": "https://api.moysklad.ru/api/remap/1.2/entity/product/9c56720c-e8a7-4fdc-aea4-7104f28207be",
                    "id": "9c56720c-e8a7-4fdc-aea4-7104f28207be",
                }
            },
            "quantity": 123.456,
            "price": 123.45,
            "sn": [
                {
                    "meta": {
                        "href": "https://online.moysklad.ru/api/posap/1.0/entity/sn/2b5eb22f-139e-11e6-9464-e4de00000073",
                        "id": "2b5eb22f-139e-11e6-9464-e4de00000073",
                    },
                    "name": "7895545",
                }
            ],
            "pack": {
                "id": "98f87a95-c0b6-11ee-0a80-06e1000360e2",
                "name": "Бутылка 1,5 л",
                "quantity": 1.5,
                "barcode": "2000000051420",
            },
        }
    ],
    "bonusProgram": {"transactionType": "EARNING"},
}

SPEND_VERIFY: dict[str, Any] = {
    "retailStore": STORE,
    "counterpartyId": "75d9ba29-2c4a-4c1c-a3a8-8db00366ac04",
    "phone": "+79011231122",
}

SALE: dict[str, Any] = {
    "retailStore": STORE,
    "name": "00001",
    "moment": "2016-04-18 15:06:00",
    "meta": {"href": "", "id": ""},
    "agent": {
        "meta": {
            "href": "https://api.moysklad.ru/api/remap/1.2/entity/counterparty/276a6f50-7ffd-11e6-8a84-bae50000005",
            "id": "276a6f50-7ffd-11e6-8a84-bae50000005",
        },
        "name": "Иванов Иван Иванович",
        "discountCardNumber": "MTIzNDU2Nzg5MA",
        "phone": "+7 555 123 4567",
        "email": "email@example.com",
        "legalFirstName": "Иванов",
        "legalMiddleName": "Иван",
        "legalLastName": "Иванович",
        "sex": "MALE",
        "birthDate": "2023-07-14 00:00:00",
    },
    "positions": [
        {
            "assortment": {
                "syncId": "f085d67e-6eae-11e6-8a84-bc520403352a",
                "meta": {
                    "href": "https://api.moysklad.ru/api/remap/1.2/entity/product/9c56720c-e8a7-4fdc-aea4-7104f28207be",
                    "id": "9c56720c-e8a7-4fdc-aea4-7104f28207be",
                },
            },
            "quantity": 123.456,
            "price": 123.45,
            "discountPercent": 49.99,
            "discountedPrice": 62.95,
        }
    ],
    "bonusProgram": {"bonusValueToSpend": 0, "bonusValueToEarn": 150},
    "cashSum": 62.95,
    "noCashSum": 283.1,
}

SALES_RETURN: dict[str, Any] = {
    "retailStore": STORE,
    "name": "00001",
    "moment": "2016-04-27 15:43:00",
    "meta": {"href": "", "id": ""},
    "demand": {"meta": {"href": "", "id": ""}},
    "agent": {},
    "positions": [
        {
            "assortment": {
                "syncId": "f085d67e-6eae-11e6-8a84-bc520403352a",
                "meta": {
                    "href": "https://api.moysklad.ru/api/remap/1.2/entity/product/9c56720c-e8a7-4fdc-aea4-7104f28207be",
                    "id": "9c56720c-e8a7-4fdc-aea4-7104f28207be",
                },
            },
            "quantity": 123.456,
            "price": 123.45,
            "discountPercent": 49.99,
            "discountedPrice": 62.95,
        }
    ],
    "cashSum": 62.95,
    "noCashSum": 283100.0,
}
