"""Enactor voucher serial number POS API (seed 004), under /compat/enactor.

Authentication: an operator API key with the operator role, as `Authorization: Bearer <key>`
or as the password of HTTP Basic authentication (how Enactor's REST clients send credentials).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from loyalty.common.dependencies import NowDep, SettingsDep
from loyalty.compat.enactor import service
from loyalty.compat.enactor.schemas import (
    EnquiryRequest,
    MatchingEnquiryRequest,
    TrackedUpdateRequest,
    UpdateRequest,
)
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import WriteOperator

PREFIX = "/enactor"

router = APIRouter(prefix=PREFIX + "/loyalty/voucherSerialNumber/pos", tags=["compat: Enactor"])


@router.post("/enquiry", summary="Voucher Serial Number Enquiry")
async def enquiry(
    body: EnquiryRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return await service.enquiry(session, operator, body, now=now, settings=settings)


@router.post("/matchingEnquiry", summary="Voucher Serial Number Matching Enquiry")
async def matching_enquiry(
    body: MatchingEnquiryRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return await service.matching_enquiry(session, operator, body, now=now, settings=settings)


@router.post("/update", summary="Voucher Serial Number Update")
async def update(
    body: UpdateRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return await service.update(session, operator, body, now=now, settings=settings)


@router.post("/trackedUpdate", summary="Voucher Serial Number Tracked Update")
async def tracked_update(
    body: TrackedUpdateRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return await service.tracked_update(session, operator, body, now=now, settings=settings)
