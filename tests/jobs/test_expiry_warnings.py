"""Expiry warnings: one `points.expiring` per customer and expiry date, however often run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.clock import Clock
from loyalty.webhooks import service as webhooks_service
from tests.conftest import Tenant
from tests.jobs.conftest import RunJobs
from tests.support import payloads


def add_endpoint(tenant: Tenant, event_types: list[str], url: str = "http://127.0.0.1:9/") -> int:
    async def work(session: AsyncSession) -> int:
        created = await webhooks_service.create_endpoint(
            session,
            account_id=tenant.account_id,
            url=url,
            event_types=event_types,
            actor="test",
            now=Clock().now(),
        )
        return created.endpoint.id

    return tenant.db.run(work)


def _outbox(tenant: Tenant, event_type: str) -> list[dict[str, Any]]:
    return tenant.db.fetch(
        "SELECT event_id, payload FROM webhook_delivery"
        " WHERE account_id = :account AND event_type = :type ORDER BY id",
        account=tenant.account_id,
        type=event_type,
    )


def test_one_warning_per_customer_and_expiry_date(tenant: Tenant, run_jobs: RunJobs) -> None:
    tenant.set_program(expiry_days=30, earn_percent=10, expiry_warning_days=7)
    add_endpoint(tenant, ["points.expiring"])
    warned = tenant.register()
    tenant.buy(warned, [payloads.position(price=1000)])
    tenant.buy(warned, [payloads.position(price=500)])  # same expiry date: one warning
    start = Clock().now()

    run_jobs(start + timedelta(days=20))
    assert _outbox(tenant, "points.expiring") == []

    run_jobs(start + timedelta(days=24), runners=2)
    run_jobs(start + timedelta(days=25), runners=2)

    events = _outbox(tenant, "points.expiring")
    assert len(events) == 1
    payload = events[0]["payload"]
    assert payload["points"] == 150
    customer_id = tenant.db.scalar(
        "SELECT id FROM customer WHERE account_id = :account", account=tenant.account_id
    )
    assert payload["customerId"] == str(customer_id)
    assert payload["customerMoyskladId"] == warned
    assert payload["expiresOn"] == str(
        tenant.db.scalar(
            "SELECT (min(expires_at) AT TIME ZONE 'Europe/Moscow')::date FROM points_lot"
            " WHERE account_id = :account",
            account=tenant.account_id,
        )
    )
    assert (
        tenant.db.scalar(
            "SELECT count(*) FROM expiry_warning WHERE account_id = :account",
            account=tenant.account_id,
        )
        == 1
    )


def test_warnings_off_record_nothing(tenant: Tenant, run_jobs: RunJobs) -> None:
    tenant.set_program(expiry_days=30, earn_percent=10, expiry_warning_days=0)
    ms_id = tenant.register()
    tenant.buy(ms_id, [payloads.position(price=1000)])
    run_jobs(Clock().now() + timedelta(days=29))
    assert (
        tenant.db.scalar(
            "SELECT count(*) FROM expiry_warning WHERE account_id = :account",
            account=tenant.account_id,
        )
        == 0
    )
