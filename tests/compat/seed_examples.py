"""The seed documents' own example requests and responses, as printed there."""

from __future__ import annotations

from typing import Any

REGION = {"groupTypeId": "region", "groupHierarchyId": "All", "groupId": "UK", "id": "UK"}
UK_GV = {"regionId": REGION, "voucherTypeId": "UK-GV"}

# 004 (Enactor): Voucher Serial Number Enquiry
ENACTOR_ENQUIRY: dict[str, Any] = {
    "serialNumber": "0101249180222154821269",
    "voucherTypeId": UK_GV,
}
ENACTOR_ENQUIRY_RESPONSE: dict[str, Any] = {
    "outcome": {"name": "Success"},
    "voucherSerialNumber": {
        "lastUpdated": 1727759779824,
        "voucherTypeId": UK_GV,
        "serialNumber": "0101249180222154821269",
        "value": 10000,
        "status": "ISSUED",
        "currencyId": "GBP",
        "customerId": {},
    },
}

# 004 (Enactor): Voucher Serial Number Matching Enquiry
ENACTOR_MATCHING: dict[str, Any] = {
    "regionId": REGION,
    "serialNumber": "0101249180222154821269",
    "removeExpiredVoucherSerialNumbers": False,
}
ENACTOR_MATCHING_RESPONSE: dict[str, Any] = {
    "list": [
        {
            "key": {
                "@type": "voucherSerialNumberKey",
                "serialNumber": "0101249180222154821269",
                "voucherTypeId": UK_GV,
            },
            "descriptionProperty": "0101249180222154821269",
            "data": {
                "Region:groupId": "UK",
                "serialNumber": "0101249180222154821269",
                "voucherTypeKey.regionKey.groupTypeId": "region",
                "voucherTypeKey.voucherTypeId": "UK-GV",
                "voucherTypeKey.regionKey.groupId": "UK",
                "voucherTypeKey.regionKey.groupHierarchyId": "All",
                "status": "ISSUED",
            },
        }
    ],
    "propertyNames": [
        "serialNumber",
        "voucherTypeKey.regionKey.groupId",
        "voucherTypeKey.regionKey.groupHierarchyId",
        "voucherTypeKey.regionKey.groupTypeId",
        "voucherTypeKey.voucherTypeId",
        "status",
        "expiryDate",
        "startDate",
        "campaignNumber",
        "externalReference",
        "Region:groupId",
    ],
}

# 004 (Enactor): Voucher Serial Number Update
ENACTOR_UPDATE: dict[str, Any] = {
    "voucherSerialNumberKey": {"serialNumber": "0596062241001135745013", "voucherTypeId": UK_GV},
    "voucherValue": 5000,
    "newStatus": "ISSUED",
    "newIssueDate": 1727771280000,
    "currencyId": "GBP",
    "allowCreate": True,
}
ENACTOR_UPDATE_RESPONSE: dict[str, Any] = {
    "outcome": {"name": "Success"},
    "voucherSerialNumberUpdate": {
        "voucherSerialNumberUpdate": {
            "voucherSerialNumberKey": {
                "serialNumber": "0596062241001135745013",
                "voucherTypeId": UK_GV,
            },
            "voucherValue": 5000,
            "newStatus": "ISSUED",
            "newIssueDate": 1727771280000,
            "updateId": "20241001092815",
            "currencyId": "GBP",
            "allowCreate": True,
        }
    },
}

# 004 (Enactor): Voucher Serial Number Tracked Update
ENACTOR_TRACKED: dict[str, Any] = {
    "transactionId": "00050796000602410011351042",
    "basketLineNumber": 2,
    "updateStatus": "COMMITED",
    "locationId": {"id": "0005"},
    "userId": {"id": "000101"},
    "voucherSerialNumberKey": {"serialNumber": "0101249180222154821269", "voucherTypeId": UK_GV},
    "voucherValue": 10000,
    "newStatus": "REDEEMED",
    "currencyId": "GBP",
    "allowCreate": False,
}
ENACTOR_TRACKED_RESPONSE: dict[str, Any] = {
    "voucherSerialNumberUpdate": {
        "voucherSerialNumberTrackedUpdate": {
            "transactionId": "00050796000602410011351042",
            "basketLineNumber": 2,
            "updateStatus": "COMMITED",
            "locationId": {"id": "0005"},
            "userId": {"id": "000101"},
            "voucherSerialNumberKey": {
                "serialNumber": "0101249180222154821269",
                "voucherTypeId": UK_GV,
            },
            "voucherValue": 10000,
            "newStatus": "REDEEMED",
            "currencyId": "GBP",
            "allowCreate": False,
        }
    },
    "outcome": {"name": "Success"},
}

# 002 (Revenue Monster): Get Voucher By Code, example response
REVENUE_MONSTER_RESPONSE: dict[str, Any] = {
    "item": {
        "key": "EhQKCE1lcmNoYW50EJXVzd3wraqTORIVCgdWb3VjaGVyGgpOQWtsRWZiVmRW",
        "label": "oijfge",
        "redemptionRuleKey": None,
        "voucherBatchKey": "EhQKCE1lcmNoYW50EJXVzd3wraqTORIYCgxWb3VjaGVyQmF0Y2gQkvnGweaB2uQg",
        "type": "GIFT",
        "amount": 0,
        "discountRate": 0,
        "minimumSpendAmount": 0,
        "origin": "SYSTEM",
        "imageUrl": "",
        "memberProfile": None,
        "redemptionRule": None,
        "assignedAt": "2018-09-28T17:15:17Z",
        "payload": None,
        "qrUrl": "http://api.revenuemonster.my/qr/4118165203679668885/voucher/NAklEfbVdV",
        "code": "NAklEfbVdV",
        "isShipping": False,
        "address": None,
        "expiry": {"type": "DYNAMIC", "day": 100, "expiredAt": "2019-01-06T17:19:35Z"},
        "usedAt": "2018-09-28T17:19:44.686549737Z",
        "redeemedAt": "2018-09-28T17:19:35Z",
        "isDeviceRedeem": False,
        "status": "VOID",
        "createdAt": "2018-06-21T11:08:00Z",
        "updatedAt": "2018-09-28T17:19:44.686549977Z",
    },
    "code": "SUCCESS",
}

# 000 (Smart Loyalty): Ваучер хадгалах (save voucher)
SMART_SAVE: dict[str, Any] = {
    "Voucher": [
        {
            "id": "2025052201",
            "customerPkId": None,
            "voucherGroupId": "001",
            "percent": 0,
            "amount": 5000,
            "password": 1234,
            "expireDate": "2025/12/31",
            "usageCount": 3,
            "hasBalance": "Y",
            "maxUsePercent": 50,
        }
    ]
}
SMART_SAVE_RESPONSE: dict[str, Any] = {
    "Success": True,
    "Message": None,
    "ErrorCode": None,
    "ExceptionType": None,
    "Data": {
        "Table": [
            {"PkId": 2506161108040175000, "Id": "2025061601"},
            {"PkId": 2506161108040315000, "Id": "2025061602"},
        ]
    },
}

# 003 (CareCloud): Get vouchers tied to a purchase — the documented fields of a voucher.
CARECLOUD_VOUCHER_FIELDS = (
    "voucher_id",
    "customer_id",
    "store_id",
    "code",
    "value",
    "applied_date",
    "valid_from",
    "valid_to",
    "reward_group",
    "note",
    "reward",
    "created_date",
    "last_change",
    "state",
)
