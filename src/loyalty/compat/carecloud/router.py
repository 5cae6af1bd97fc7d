"""CareCloud "Get vouchers tied to a purchase" (seed 003), under /compat/carecloud.

Authentication: an operator API key (read-only role suffices) as `Authorization: Bearer <key>`
or as the password of HTTP Basic authentication, as CareCloud clients send credentials.
Rate-limited per key (LOYALTY_COMPAT_RATE_LIMIT_*): beyond it, 429 with Retry-After.
`Accept-Language` is accepted and ignored (messages are Russian).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from loyalty.common.dependencies import NowDep, SettingsDep
from loyalty.compat.carecloud import service
from loyalty.compat.carecloud.schemas import PurchaseVouchersResponse
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import ReadOnlyOperator

PREFIX = "/carecloud"

router = APIRouter(prefix=PREFIX, tags=["compat: CareCloud purchase vouchers"])


@router.get("/purchases/{purchase_id}/vouchers", summary="Get vouchers tied to a purchase")
async def purchase_vouchers(
    purchase_id: Annotated[str, Path(max_length=255)],
    session: SessionDep,
    operator: ReadOnlyOperator,
    now: NowDep,
    settings: SettingsDep,
    count: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sort_field: Annotated[str | None, Query(max_length=64)] = None,
    sort_direction: Annotated[str | None, Query(max_length=4)] = None,
    sort: Annotated[str | None, Query(max_length=64)] = None,
    direction: Annotated[str | None, Query(max_length=4)] = None,
) -> PurchaseVouchersResponse:
    return await service.purchase_vouchers(
        session,
        operator,
        purchase_id,
        count=count,
        offset=offset,
        sort_field=sort_field or sort,
        sort_direction=sort_direction or direction,
        now=now,
        settings=settings,
    )
