"""Probes for load balancers and orchestrators; fast, and need no token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from loyalty.health import service
from loyalty.health.schemas import Liveness, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Процесс жив")
async def healthz() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    summary="Готов принимать запросы: база доступна, миграции применены",
    responses={503: {"model": Readiness, "description": "Не готов"}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    report = await service.check_readiness(request.app.state.engine)
    if not report.ready:
        response.status_code = 503
    return report
