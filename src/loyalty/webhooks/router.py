"""Webhook endpoints over the operator API (mounted under /api/v1), for admins; audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from loyalty.common.dependencies import NowDep
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import AdminOperator
from loyalty.webhooks import service
from loyalty.webhooks.schemas import EVENT_TYPES, Endpoint

router = APIRouter(tags=["webhooks (operator API)"])


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=service.URL_MAX_LENGTH)
    eventTypes: list[str] = Field(
        min_length=1, max_length=len(EVENT_TYPES), description=", ".join(EVENT_TYPES)
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    eventTypes: list[str]
    createdAt: datetime

    @classmethod
    def of(cls, endpoint: Endpoint) -> WebhookOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            eventTypes=endpoint.event_types,
            createdAt=endpoint.created_at,
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="Shown once. Verify `X-Loyalty-Signature: sha256=<hex HMAC-SHA256 of"
        " `<X-Loyalty-Timestamp>.<body>` with this secret>`."
    )


class WebhookList(BaseModel):
    items: list[WebhookOut]


EndpointId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/webhooks", summary="Вебхуки")
async def list_webhooks(session: SessionDep, operator: AdminOperator) -> WebhookList:
    endpoints = await service.list_endpoints(session, operator.account_id)
    return WebhookList(items=[WebhookOut.of(endpoint) for endpoint in endpoints])


@router.post("/webhooks", status_code=201, summary="Добавить вебхук")
async def create_webhook(
    body: WebhookCreate, session: SessionDep, operator: AdminOperator, now: NowDep
) -> WebhookCreated:
    created = await service.create_endpoint(
        session,
        account_id=operator.account_id,
        url=body.url,
        event_types=body.eventTypes,
        actor=operator.actor,
        now=now,
    )
    return WebhookCreated(**WebhookOut.of(created.endpoint).model_dump(), secret=created.secret)


@router.delete("/webhooks/{endpoint_id}", summary="Удалить вебхук")
async def delete_webhook(
    endpoint_id: EndpointId, session: SessionDep, operator: AdminOperator, now: NowDep
) -> WebhookOut:
    endpoint = await service.delete_endpoint(
        session,
        account_id=operator.account_id,
        endpoint_id=endpoint_id,
        actor=operator.actor,
        now=now,
    )
    return WebhookOut.of(endpoint)
