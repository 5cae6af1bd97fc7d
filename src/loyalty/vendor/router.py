"""Vendor API: MoySklad activates and deactivates the solution on an account (spec §2.2).

The descriptor's `endpointBase` is our public base URL, so these are the paths MoySklad calls.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response

from loyalty.common.dependencies import NowDep, SettingsDep
from loyalty.db.session import SessionDep
from loyalty.moysklad.dependencies import RuntimeDep, TaskWakerDep
from loyalty.vendor import service
from loyalty.vendor.schemas import ActivationResponse, VendorAnswer, VendorCall

VENDOR_PATH = "/api/moysklad/vendor/1.0/apps/{app_id}/{account_id}"
REQUEST_ID_HEADERS = ("x_lognex_requestid", "x-lognex-requestid")

router = APIRouter(tags=["vendor api"])

AppId = Annotated[str, Path(max_length=64)]
AccountId = Annotated[str, Path(max_length=64)]


async def _call(request: Request, method: str, app_id: str, account_id: str) -> VendorCall:
    request_id = next(
        (request.headers[name] for name in REQUEST_ID_HEADERS if name in request.headers), None
    )
    return VendorCall(
        method=method,
        app_id=app_id,
        moysklad_account_id=account_id,
        authorization=request.headers.get("authorization"),
        request_id=(request_id or "").strip()[:200] or None,
        body=await request.body(),
    )


def _response(answer: VendorAnswer, background: BackgroundTasks, waker: TaskWakerDep) -> Response:
    if answer.queued_work:
        background.add_task(waker.wake)  # after the commit: the work is visible by then
    if answer.body is None:
        return Response(status_code=answer.status_code)
    return Response(answer.body, status_code=answer.status_code, media_type="application/json")


@router.put(
    VENDOR_PATH,
    response_model=ActivationResponse,
    summary="Установка, возобновление, смена тарифа",
)
async def activate(
    app_id: AppId,
    account_id: AccountId,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    runtime: RuntimeDep,
    waker: TaskWakerDep,
) -> Response:
    call = await _call(request, "PUT", app_id, account_id)
    answer = await service.handle_call(
        session, call, settings=settings, cipher=runtime.cipher, now=now
    )
    return _response(answer, background, waker)


@router.delete(
    VENDOR_PATH,
    status_code=200,
    responses={204: {"description": "Решение на этом аккаунте не устанавливалось"}},
    summary="Приостановка или удаление",
)
async def deactivate(
    app_id: AppId,
    account_id: AccountId,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    runtime: RuntimeDep,
    waker: TaskWakerDep,
) -> Response:
    call = await _call(request, "DELETE", app_id, account_id)
    answer = await service.handle_call(
        session, call, settings=settings, cipher=runtime.cipher, now=now
    )
    return _response(answer, background, waker)
