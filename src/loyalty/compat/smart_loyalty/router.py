"""Smart Loyalty voucher calls (seed 000), under /compat/smart-loyalty.

Authentication: `Authorization: Bearer <key>` with an operator API key (operator role to save,
read-only to list), where Smart Loyalty clients send their bearer token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from loyalty.common.dependencies import NowDep
from loyalty.compat.smart_loyalty import service
from loyalty.compat.smart_loyalty.schemas import Envelope, SaveVoucherRequest
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import ReadOnlyOperator, WriteOperator

PREFIX = "/smart-loyalty"

router = APIRouter(prefix=PREFIX + "/api/sale", tags=["compat: Smart Loyalty"])


# The seed documents saveVoucher as a GET with a JSON body; POST is accepted too.
@router.post("/saveVoucher", operation_id="smart_loyalty_save_voucher", summary="Ваучер хадгалах")
@router.get(
    "/saveVoucher", operation_id="smart_loyalty_save_voucher_get", summary="Ваучер хадгалах (GET)"
)
async def save_voucher(
    body: SaveVoucherRequest, session: SessionDep, operator: WriteOperator, now: NowDep
) -> Envelope:
    table = await service.save_vouchers(session, operator, body, now=now)
    return Envelope(Data={"Table": table})


@router.get("/voucherList", summary="Ваучерийн жагсаалт (list)")
async def voucher_list(
    session: SessionDep,
    operator: ReadOnlyOperator,
    now: NowDep,
    customer_pk_id: Annotated[str | None, Query(alias="customerPkId", max_length=255)] = None,
    voucher_group_id: Annotated[str | None, Query(alias="voucherGroupId", max_length=64)] = None,
    voucher_id: Annotated[str | None, Query(alias="id", max_length=64)] = None,
) -> Envelope:
    table = await service.voucher_list(
        session,
        operator,
        customer=customer_pk_id,
        group=voucher_group_id,
        code=voucher_id,
        now=now,
    )
    return Envelope(Data={"Table": table})
