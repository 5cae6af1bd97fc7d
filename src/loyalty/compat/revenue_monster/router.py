"""Revenue Monster "Get Voucher By Code" (seed 002), under /compat/revenue-monster.

Authentication: an operator API key (read-only role suffices) as `Authorization: Bearer <key>`,
where Revenue Monster clients send their OAuth access token. Request signatures are not used.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from loyalty.common.dependencies import NowDep, SettingsDep
from loyalty.compat.revenue_monster import service
from loyalty.compat.revenue_monster.schemas import VoucherResponse
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import ReadOnlyOperator

PREFIX = "/revenue-monster"

router = APIRouter(prefix=PREFIX + "/v3", tags=["compat: Revenue Monster"])


@router.post("/voucher/{code}", summary="Get Voucher By Code")
async def voucher_by_code(
    code: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    operator: ReadOnlyOperator,
    now: NowDep,
    settings: SettingsDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> VoucherResponse:
    """The body is an empty JSON object, as the seed document says; it is ignored."""
    return await service.voucher_by_code(session, operator, code, now=now, settings=settings)
