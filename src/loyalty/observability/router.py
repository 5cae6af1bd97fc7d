"""GET /metrics in the Prometheus text format, optionally behind its own bearer token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from loyalty.common.dependencies import SettingsDep
from loyalty.observability import metrics
from loyalty.observability.errors import MetricsTokenInvalid

router = APIRouter(tags=["operations"])

_bearer = HTTPBearer(auto_error=False, scheme_name="MetricsToken")


async def require_metrics_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = settings.METRICS_TOKEN
    if expected is None:
        return
    offered = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(offered.encode(), expected.get_secret_value().encode()):
        raise MetricsTokenInvalid()


@router.get(
    "/metrics",
    summary="Метрики Prometheus",
    response_class=Response,
    dependencies=[Depends(require_metrics_token)],
    responses={200: {"content": {metrics.CONTENT_TYPE: {}}}, 401: {"description": "Нет токена"}},
)
async def prometheus_metrics(accept: Annotated[str | None, Header()] = None) -> Response:
    body, content_type = metrics.render(accept)
    return Response(body, media_type=content_type)
