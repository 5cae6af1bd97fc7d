"""LoyaltyAPI gift certificate shapes (spec §1.7). Balances are kopecks, as JSON numbers."""

from __future__ import annotations

from typing import Literal

from loyalty.common.schemas import WireModel

GiftCardStatus = Literal["CAN_BE_USED", "PARTIALLY_REDEEMED", "EXPIRED", "REDEEMED", "INVALID"]


class GiftCardResponse(WireModel):
    name: str
    id: str
    status: GiftCardStatus
    # "YYYY-MM-DD HH:MM:SS" in UTC; absent when the certificate never expires.
    expireDate: str | None = None
    currentBalance: int
    initialBalance: int
