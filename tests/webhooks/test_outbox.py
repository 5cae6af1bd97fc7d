"""Events are written in the transaction of the change: a rolled-back change emits nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.clock import Clock
from loyalty.ledger import service as ledger_service
from loyalty.ledger.schemas import LotTerms, TransactionKind
from loyalty.webhooks import service as webhooks_service
from tests.backoffice.conftest import back_office
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.statements import sent_statements
from tests.support.vouchers import Operator
from tests.webhooks.conftest import FakeReceiver, outbox

ALL_POINTS = ["points.earned", "points.spent", "points.expired", "points.reversed"]


def _customer_id(tenant: Tenant, ms_id: str) -> uuid.UUID:
    found = tenant.db.scalar(
        "SELECT id FROM customer WHERE account_id = :account AND moysklad_id = :ms_id",
        account=tenant.account_id,
        ms_id=ms_id,
    )
    assert isinstance(found, uuid.UUID)
    return found


class Abort(Exception):
    pass


def _credit(tenant: Tenant, customer_id: uuid.UUID, key: str, *, then_fail: bool) -> None:
    async def work(session: AsyncSession) -> None:
        now = Clock().now()
        locked = await ledger_service.lock_customer(session, tenant.account_id, customer_id, now)
        await ledger_service.credit(
            session,
            locked,
            kind=TransactionKind.adjustment,
            points=25,
            terms=LotTerms(activates_at=now, expires_at=None),
            idempotency_key=key,
            now=now,
        )
        if then_fail:
            raise Abort

    if then_fail:
        with pytest.raises(Abort):
            tenant.db.run(work)
    else:
        tenant.db.run(work)


def test_a_rolled_back_posting_leaves_no_event(
    operator: Operator, receiver: FakeReceiver, tenant: Tenant
) -> None:
    operator.ok(operator.post("/webhooks", {"url": receiver.url, "eventTypes": ALL_POINTS}), 201)
    customer_id = _customer_id(tenant, tenant.register())

    _credit(tenant, customer_id, "manual:1", then_fail=True)
    assert outbox(tenant.db, tenant.account_id) == []

    _credit(tenant, customer_id, "manual:2", then_fail=False)
    [event] = outbox(tenant.db, tenant.account_id)
    assert event["event_type"] == "points.earned" and event["payload"]["points"] == 25


def test_a_refused_sale_emits_nothing_and_a_return_emits_a_reversal(
    operator: Operator, receiver: FakeReceiver, tenant: Tenant
) -> None:
    operator.ok(operator.post("/webhooks", {"url": receiver.url, "eventTypes": ALL_POINTS}), 201)
    tenant.set_program(earn_percent=10)
    ms_id = tenant.register()
    sale_id, _ = tenant.buy(ms_id, [payloads.position(price=1000)])
    assert [row["event_type"] for row in outbox(tenant.db, tenant.account_id)] == ["points.earned"]

    overspend = payloads.sale(
        payloads.new_id(),
        ms_id,
        [payloads.position(quantity=1, price=1000, discounted_price=500)],
        spend=500,
    )
    refused = tenant.post("/retaildemand", overspend)
    assert refused.status_code == 412, refused.text
    assert len(outbox(tenant.db, tenant.account_id)) == 1

    returned = tenant.post(
        "/retailsalesreturn",
        payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(price=1000)], ms_id=ms_id
        ),
    )
    assert returned.status_code == 201, returned.text
    events = outbox(tenant.db, tenant.account_id)
    assert [row["event_type"] for row in events] == ["points.earned", "points.reversed"]
    assert events[1]["payload"]["reclaimedPoints"] == 100


def test_accounts_without_endpoints_write_no_events(tenant: Tenant) -> None:
    ms_id = tenant.register()
    tenant.buy(ms_id, [payloads.position(price=1000)])
    assert outbox(tenant.db, tenant.account_id) == []

    async def has_endpoints(session: AsyncSession) -> bool:
        return await webhooks_service.account_has_endpoints(session, tenant.account_id)

    assert tenant.db.run(has_endpoints) is False


def test_emit_refuses_unknown_event_types(tenant: Tenant) -> None:
    async def work(session: AsyncSession) -> int:
        return await webhooks_service.emit(session, tenant.account_id, "points.stolen", {})

    with pytest.raises(ValueError, match=r"points\.stolen"):
        tenant.db.run(work)


def test_a_gift_certificate_redemption_emits_voucher_redeemed_once(
    operator: Operator, receiver: FakeReceiver, tenant: Tenant
) -> None:
    operator.ok(
        operator.post("/webhooks", {"url": receiver.url, "eventTypes": ["voucher.redeemed"]}), 201
    )
    card = operator.certificate(10_000)

    def pay_with_card(sale_id: str, payment_minor: int) -> int:
        sale = payloads.sale(
            sale_id,
            None,
            [payloads.position(price=1000)],
            giftCards=[{"id": card["id"], "name": card["code"], "paymentSum": payment_minor}],
        )
        return tenant.post("/retaildemand", sale).status_code

    refused = pay_with_card(payloads.new_id(), 20_000)  # more than the certificate holds
    assert 400 <= refused < 500
    assert outbox(tenant.db, tenant.account_id) == []

    sale_id = payloads.new_id()
    assert pay_with_card(sale_id, 2_500) == 201
    assert pay_with_card(sale_id, 2_500) == 201  # a replay of the same sale
    [event] = outbox(tenant.db, tenant.account_id)
    assert event["event_type"] == "voucher.redeemed"
    assert event["payload"]["voucherId"] == card["id"]
    assert (event["payload"]["redeemedMinor"], event["payload"]["balanceAfterMinor"]) == (
        2_500,
        7_500,
    )


@pytest.fixture
def statements() -> Iterator[list[str]]:
    with sent_statements() as sent:
        yield sent


def test_the_till_pays_no_round_trip_for_webhooks(
    operator: Operator, tenant: Tenant, statements: list[str]
) -> None:
    card = operator.certificate(10_000)
    ms_id = tenant.register()
    tenant.buy(ms_id, [payloads.position(price=1000)])
    statements.clear()

    tenant.buy(ms_id, [payloads.position(price=1000)], spending=True, preferred=10)
    gift_sale = payloads.sale(
        payloads.new_id(),
        None,
        [payloads.position(price=1000)],
        giftCards=[{"id": card["id"], "name": card["code"], "paymentSum": 1_000}],
    )
    assert tenant.post("/retaildemand", gift_sale).status_code == 201

    webhook_sql = [sql for sql in statements if "webhook" in sql]
    # The flag rides on the customer and voucher locks; nothing is queued or looked up apart.
    assert len(webhook_sql) >= 2
    assert all("FOR UPDATE" in sql for sql in webhook_sql), webhook_sql
    assert outbox(tenant.db, tenant.account_id) == []


def test_tier_moves_emit_tier_changed_with_the_sale_and_the_return(
    operator: Operator, receiver: FakeReceiver, tenant: Tenant
) -> None:
    operator.ok(
        operator.post("/webhooks", {"url": receiver.url, "eventTypes": ["tier.changed"]}), 201
    )
    tiers = {
        "windowMonths": 12,
        "items": [
            {"name": "Бронза", "thresholdMinor": 0, "earnPercent": 3, "maxSpendPercent": 20},
            {"name": "Серебро", "thresholdMinor": 100_000, "earnPercent": 5, "maxSpendPercent": 30},
        ],
    }
    operator.ok(operator.client.put("/program/tiers", json=tiers))
    ms_id = tenant.register()
    sale_id, _ = tenant.buy(ms_id, [payloads.position(quantity=2, price=600)])
    returned = tenant.post(
        "/retailsalesreturn",
        payloads.sales_return(payloads.new_id(), sale_id, [payloads.position(price=600)]),
    )
    assert returned.status_code == 201, returned.text

    moves = [
        (row["payload"]["fromTier"], row["payload"]["toTier"], row["payload"]["reason"])
        for row in outbox(tenant.db, tenant.account_id)
    ]
    assert moves[-2:] == [("Бронза", "Серебро", "sale"), ("Серебро", "Бронза", "return")]
    assert {row["event_type"] for row in outbox(tenant.db, tenant.account_id)} == {"tier.changed"}


def test_a_transfer_emits_points_transferred_once(
    operator: Operator, receiver: FakeReceiver, tenant: Tenant
) -> None:
    office = back_office(tenant)
    operator.ok(
        operator.post("/webhooks", {"url": receiver.url, "eventTypes": ["points.transferred"]}),
        201,
    )
    source, target = office.customer(), office.customer()
    office.ok(office.adjust(source, 100))
    assert outbox(tenant.db, tenant.account_id) == []  # an adjustment is not a transfer

    first = office.ok(office.transfer(source, target, 40, key="move-1"))
    office.ok(office.transfer(source, target, 40, key="move-1"))  # a replay

    [event] = outbox(tenant.db, tenant.account_id)
    assert event["event_type"] == "points.transferred"
    assert event["payload"] == {
        "customerId": source,
        "customerMoyskladId": office.ms_id(source),
        "recipientCustomerId": target,
        "recipientCustomerMoyskladId": office.ms_id(target),
        "transactionId": first["transactionId"],
        "transactionKind": "transfer",
        "points": 40,
    }


def test_a_merge_emits_customer_merged_with_what_moved(
    operator: Operator, receiver: FakeReceiver, tenant: Tenant
) -> None:
    office = back_office(tenant)
    operator.ok(
        operator.post(
            "/webhooks", {"url": receiver.url, "eventTypes": ["customer.merged", *ALL_POINTS]}
        ),
        201,
    )
    survivor, duplicate, empty = office.customer(), office.customer(), office.customer()
    office.ok(office.adjust(duplicate, 70))
    before = len(outbox(tenant.db, tenant.account_id))  # the adjustment's points.earned

    office.ok(office.client.post(f"/customers/{survivor}/merge", json={"duplicateId": duplicate}))
    office.ok(office.client.post(f"/customers/{survivor}/merge", json={"duplicateId": duplicate}))
    # A duplicate that held nothing is merged all the same, with no ledger transaction.
    office.ok(office.client.post(f"/customers/{survivor}/merge", json={"duplicateId": empty}))

    merged = [
        event["payload"]
        for event in outbox(tenant.db, tenant.account_id)[before:]
        if event["event_type"] == "customer.merged"
    ]
    assert len(outbox(tenant.db, tenant.account_id)) == before + 2  # no points.* for a merge
    transaction_id = tenant.db.scalar(
        "SELECT id FROM ledger_transaction WHERE account_id = :account AND kind = 'merge'",
        account=tenant.account_id,
    )
    survivor_fields = {
        "customerId": survivor,
        "customerMoyskladId": office.ms_id(survivor),
        "transactionKind": "merge",
        "pendingPoints": 0,
        "debtPoints": 0,
        "vouchers": 0,
    }
    assert merged == [
        survivor_fields
        | {
            "duplicateCustomerId": duplicate,
            "duplicateCustomerMoyskladId": office.ms_id(duplicate),
            "transactionId": transaction_id,
            "availablePoints": 70,
        },
        survivor_fields
        | {
            "duplicateCustomerId": empty,
            "duplicateCustomerMoyskladId": office.ms_id(empty),
            "transactionId": None,
            "availablePoints": 0,
        },
    ]
