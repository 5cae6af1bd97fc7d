"""Delivery to a real local receiver: signed, retried after failures, sent once by two workers."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.webhooks.signing import verify
from tests.conftest import Tenant
from tests.jobs.conftest import run_job_runner
from tests.support import payloads
from tests.support.vouchers import Operator
from tests.webhooks.conftest import FAST_RETRIES, FakeReceiver, drain, outbox


def subscribe(operator: Operator, url: str, event_types: list[str]) -> str:
    created = operator.ok(operator.post("/webhooks", {"url": url, "eventTypes": event_types}), 201)
    secret: str = created["secret"]
    return secret


def test_a_sale_is_delivered_signed(
    operator: Operator, receiver: FakeReceiver, app_settings: Settings
) -> None:
    tenant = operator.tenant
    tenant.set_program(earn_percent=10)
    secret = subscribe(operator, receiver.url, ["points.earned", "points.spent"])
    ms_id = tenant.register()
    tenant.buy(ms_id, [payloads.position(price=1000)])
    tenant.buy(ms_id, [payloads.position(price=1000)], spending=True, preferred=40)

    drain(app_settings, tenant)

    assert len(receiver.received) == 3  # earned; then spent and earned of the second sale
    for request in receiver.received:
        timestamp = int(request.headers["x-loyalty-timestamp"])
        assert abs(timestamp - time.time()) < 60
        signature = request.headers["x-loyalty-signature"]
        assert signature.startswith("sha256=")
        assert verify(secret, timestamp, request.body, signature)
        assert not verify(secret + "x", timestamp, request.body, signature)
        assert not verify(secret, timestamp + 1, request.body, signature)
        event = json.loads(request.body)
        assert request.headers["x-loyalty-event-id"] == event["id"]
        assert event["accountId"] == str(tenant.account_id)
        assert event["data"]["customerMoyskladId"] == ms_id
    events = [json.loads(request.body) for request in receiver.received]
    by_type = sorted((event["type"], event["data"]["points"]) for event in events)
    assert by_type == [("points.earned", 96), ("points.earned", 100), ("points.spent", 40)]
    assert all(row["status"] == "delivered" for row in outbox(tenant.db, tenant.account_id))


def test_receiver_errors_are_retried_with_the_same_event(
    operator: Operator, receiver: FakeReceiver, app_settings: Settings
) -> None:
    tenant = operator.tenant
    subscribe(operator, receiver.url, ["points.earned"])
    receiver.statuses = [500, 503]
    tenant.buy(tenant.register(), [payloads.position(price=1000)])

    drain(app_settings, tenant)

    assert len(receiver.received) == 3
    assert len({request.headers["x-loyalty-event-id"] for request in receiver.received}) == 1
    assert len({request.body for request in receiver.received}) == 1
    [row] = outbox(tenant.db, tenant.account_id)
    assert (row["status"], row["attempts"]) == ("delivered", 3)


def test_an_event_is_dead_after_the_last_attempt(
    operator: Operator, receiver: FakeReceiver, app_settings: Settings
) -> None:
    tenant = operator.tenant
    subscribe(operator, receiver.url, ["points.earned"])
    receiver.default_status = 500
    tenant.buy(tenant.register(), [payloads.position(price=1000)])

    drain(app_settings, tenant, replace(FAST_RETRIES, max_attempts=3))

    assert len(receiver.received) == 3
    [row] = outbox(tenant.db, tenant.account_id)
    assert (row["status"], row["attempts"]) == ("dead", 3)


def test_two_workers_deliver_every_event_once(
    operator: Operator, receiver: FakeReceiver, app_settings: Settings
) -> None:
    tenant = operator.tenant
    subscribe(operator, receiver.url, ["points.earned"])
    receiver.delay_seconds = 0.05
    for _ in range(12):
        tenant.buy(tenant.register(), [payloads.position(price=1000)])
    small_batches = replace(FAST_RETRIES, batch_size=3)

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(drain, app_settings, tenant, small_batches) for _ in range(2)]
        for run in runs:
            run.result()

    event_ids = [request.headers["x-loyalty-event-id"] for request in receiver.received]
    assert len(event_ids) == 12
    assert len(set(event_ids)) == 12
    rows = outbox(tenant.db, tenant.account_id)
    assert {str(row["event_id"]) for row in rows} == set(event_ids)
    assert all(row["status"] == "delivered" and row["attempts"] == 1 for row in rows)


def test_only_subscribed_types_are_queued_and_deleted_endpoints_get_nothing(
    operator: Operator, receiver: FakeReceiver, tenant: Tenant
) -> None:
    subscribe(operator, receiver.url, ["points.spent"])
    ms_id = tenant.register()
    tenant.buy(ms_id, [payloads.position(price=1000)])  # earns only
    assert outbox(tenant.db, tenant.account_id) == []

    endpoint_id = operator.ok(operator.get("/webhooks"))["items"][0]["id"]
    tenant.buy(ms_id, [payloads.position(price=1000)], spending=True, preferred=10)
    [queued] = outbox(tenant.db, tenant.account_id)
    assert queued["event_type"] == "points.spent" and queued["payload"]["points"] == 10
    operator.ok(operator.client.delete(f"/webhooks/{endpoint_id}"))
    [cancelled] = outbox(tenant.db, tenant.account_id)
    assert cancelled["status"] == "cancelled"
    tenant.buy(ms_id, [payloads.position(price=1000)], spending=True, preferred=5)
    assert len(outbox(tenant.db, tenant.account_id)) == 1


def test_the_expiry_job_emits_points_expired(
    operator: Operator, receiver: FakeReceiver, app_settings: Settings
) -> None:
    tenant = operator.tenant
    tenant.set_program(earn_percent=10, expiry_days=10)
    subscribe(operator, receiver.url, ["points.expired"])
    tenant.buy(tenant.register(), [payloads.position(price=700)])

    run_job_runner(app_settings, Clock().now() + timedelta(days=11))
    drain(app_settings, tenant)

    [request] = receiver.received
    event = json.loads(request.body)
    assert event["type"] == "points.expired"
    assert (event["data"]["points"], event["data"]["transactionKind"]) == (70, "expiry")


def test_private_addresses_are_refused_unless_allowed(
    operator: Operator, receiver: FakeReceiver, app_settings: Settings
) -> None:
    tenant = operator.tenant
    subscribe(operator, receiver.url, ["points.earned"])
    tenant.buy(tenant.register(), [payloads.position(price=1000)])

    drain(
        app_settings,
        tenant,
        replace(FAST_RETRIES, allow_private_addresses=False, max_attempts=2),
    )

    assert receiver.received == []
    [row] = tenant.db.fetch(
        "SELECT status, attempts, last_error FROM webhook_delivery WHERE account_id = :account",
        account=tenant.account_id,
    )
    assert (row["status"], row["attempts"]) == ("dead", 2)
    assert "non-public address 127.0.0.1" in row["last_error"]


def test_finished_events_are_purged_after_the_retention_period(
    operator: Operator, receiver: FakeReceiver, app_settings: Settings
) -> None:
    tenant = operator.tenant
    subscribe(operator, receiver.url, ["points.earned"])
    tenant.buy(tenant.register(), [payloads.position(price=1000)])
    drain(app_settings, tenant)
    receiver.default_status = 500
    tenant.buy(tenant.register(), [payloads.position(price=1000)])  # stays pending

    run_job_runner(app_settings, Clock().now() + timedelta(days=29))
    assert len(outbox(tenant.db, tenant.account_id)) == 2
    run_job_runner(app_settings, Clock().now() + timedelta(days=31))
    [left] = outbox(tenant.db, tenant.account_id)
    assert left["status"] == "pending"  # never purged before it is finished
