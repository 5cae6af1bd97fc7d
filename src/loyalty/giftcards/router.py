"""LoyaltyAPI gift certificate look-up (spec §1.7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from loyalty.auth.dependencies import CurrentAccount
from loyalty.common.dependencies import NowDep, SettingsDep
from loyalty.db.session import SessionDep
from loyalty.giftcards import service
from loyalty.giftcards.schemas import GiftCardResponse

router = APIRouter(prefix="/giftcard", tags=["gift certificates"])


@router.get("", response_model_exclude_none=True, summary="Поиск подарочного сертификата")
async def find_gift_card(
    session: SessionDep,
    context: CurrentAccount,
    now: NowDep,
    settings: SettingsDep,
    name: Annotated[str, Query(max_length=255)] = "",
    retail_store_id: Annotated[str | None, Query(alias="retailStoreId", max_length=255)] = None,
) -> GiftCardResponse:
    return await service.find_gift_card(
        session, context, name=name, retail_store_id=retail_store_id, now=now, settings=settings
    )
