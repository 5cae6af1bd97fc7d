"""`loyalty webhooks …`"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.common.clock import Clock
from loyalty.models.webhook import DELIVERY_STATUSES
from loyalty.operators.cli import cli_actor
from loyalty.webhooks import repository, service
from loyalty.webhooks.schemas import EVENT_TYPES, Endpoint


def _endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "created_at": endpoint.created_at.isoformat(),
    }


@click.group("webhooks")
def webhooks_group() -> None:
    """Webhook endpoints of an account and the events sent to them."""


@webhooks_group.command("add")
@click.argument("account_id")
@click.option("--url", required=True, help="http(s):// address that receives the events.")
@click.option(
    "--event",
    "event_types",
    multiple=True,
    required=True,
    type=click.Choice(EVENT_TYPES),
    help="An event type to send (repeat the option for several).",
)
def add(account_id: str, url: str, event_types: tuple[str, ...]) -> None:
    """Add an endpoint; prints its signing secret once."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        created = await service.create_endpoint(
            session,
            account_id=account_uuid,
            url=url,
            event_types=list(event_types),
            actor=cli_actor(),
            now=Clock().now(),
        )
        emit(_endpoint_json(created.endpoint) | {"secret": created.secret})

    run_in_transaction(work)


@webhooks_group.command("list")
@click.argument("account_id")
def list_endpoints(account_id: str) -> None:
    """The account's endpoints (without secrets)."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        endpoints = await service.list_endpoints(session, account_uuid)
        emit([_endpoint_json(endpoint) for endpoint in endpoints])

    run_in_transaction(work)


@webhooks_group.command("delete")
@click.argument("account_id")
@click.argument("endpoint_id", type=int)
def delete(account_id: str, endpoint_id: int) -> None:
    """Delete an endpoint; its undelivered events are cancelled."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        endpoint = await service.delete_endpoint(
            session,
            account_id=account_uuid,
            endpoint_id=endpoint_id,
            actor=cli_actor(),
            now=Clock().now(),
        )
        emit(_endpoint_json(endpoint))

    run_in_transaction(work)


@webhooks_group.command("deliveries")
@click.argument("account_id")
@click.option("--status", type=click.Choice(DELIVERY_STATUSES), default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def deliveries(account_id: str, status: str | None, limit: int) -> None:
    """Recent events and how their delivery went, newest first."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        rows = await repository.list_deliveries(session, account_uuid, status, limit)
        emit([dict(row._mapping) for row in rows])

    run_in_transaction(work)


@webhooks_group.command("retry")
@click.argument("account_id")
@click.argument("delivery_ids", type=int, nargs=-1)
def retry(account_id: str, delivery_ids: tuple[int, ...]) -> None:
    """Send dead events again (the given ones, or all of the account's)."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        requeued = await repository.retry_dead(
            session, account_uuid, list(delivery_ids) if delivery_ids else None
        )
        emit({"requeued": requeued})

    run_in_transaction(work)
