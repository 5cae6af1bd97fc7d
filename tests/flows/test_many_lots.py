"""A customer with more lots than one bounded read returns: spends and returns still draw
in spend order (soonest-expiring, then oldest, first), past the first page of lots."""

from __future__ import annotations

from datetime import timedelta

from loyalty.common.clock import Clock
from tests.conftest import Tenant
from tests.support import payloads

PRODUCT = "a0000000-0000-4000-8000-00000000000a"
PURCHASES = 40  # more than ledger.repository.LOTS_PER_READ (16)


def lot_remainders(tenant: Tenant, ms_id: str) -> list[int]:
    rows = tenant.db.fetch(
        "SELECT l.remaining_points FROM points_lot l"
        " JOIN customer c ON c.account_id = l.account_id AND c.id = l.customer_id"
        " WHERE c.account_id = :account AND c.moysklad_id = :ms_id ORDER BY l.id",
        account=tenant.account_id,
        ms_id=ms_id,
    )
    return [row["remaining_points"] for row in rows]


def test_spend_and_return_draw_in_order_past_the_first_page_of_lots(tenant: Tenant) -> None:
    customer = tenant.register()
    sales = [
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 100)])[0] for _ in range(PURCHASES)
    ]
    assert lot_remainders(tenant, customer) == [5] * PURCHASES

    # 150 points need 30 lots: two reads past the first page of 16.
    _sale, answer = tenant.buy(
        customer, [payloads.position(PRODUCT, 1, 1000)], spending=True, preferred=150
    )
    assert answer["bonusProgram"]["bonusValueToSpend"] == 150
    after_spend = lot_remainders(tenant, customer)
    assert after_spend[:30] == [0] * 30
    assert after_spend[30:PURCHASES] == [5] * 10
    earned_by_spend_sale = sum(after_spend[PURCHASES:])

    # Returning the first sale takes back its 5 points; its own lot is spent, so they come
    # from the first live lot in spend order (the 31st), not from any later one.
    body = payloads.sales_return(payloads.new_id(), sales[0], [payloads.position(PRODUCT, 1, 100)])
    assert tenant.post("/retailsalesreturn", body).status_code == 201
    after_return = lot_remainders(tenant, customer)
    assert after_return[:31] == [0] * 31
    assert after_return[31:PURCHASES] == [5] * 9
    assert tenant.balance(customer) == 5 * 9 + earned_by_spend_sale
    assert tenant.stored_balance(customer)["debt_points"] == 0


def test_due_maturities_among_many_lots_are_posted_and_the_next_one_kept(
    tenant: Tenant, clock: Clock
) -> None:
    """One purchase a day for 40 days with a 2-day activation delay and 30-day expiry: each
    purchase posts the maturities that fell due; what is left is exact."""
    tenant.set_program(activation_delay_days=2, expiry_days=30)
    customer = tenant.register()
    start = clock.now()
    for _day in range(PURCHASES):
        tenant.buy(customer, [payloads.position(PRODUCT, 1, 100)])  # 5 points
        clock.advance(timedelta(days=1))
    clock.advance(timedelta(days=45 - PURCHASES, seconds=1))
    # Day 45: lots of days 0-13 expired (day + 32 <= 45), days 14-39 active, none pending.
    assert tenant.balance(customer) == 26 * 5  # exact before anything is posted
    tenant.buy(customer, [payloads.position(PRODUCT, 1, 100)])
    assert tenant.stored_balance(customer) == {
        "available_points": 26 * 5,
        "pending_points": 5,
        "debt_points": 0,
    }
    expired = tenant.db.scalar(
        "SELECT sum(amount_points) FROM ledger_entry WHERE account_id = :a AND bucket = 'expired'",
        a=tenant.account_id,
    )
    assert expired == 14 * 5
    next_maturity_at = tenant.db.scalar(
        "SELECT next_maturity_at FROM customer_balance WHERE account_id = :a",
        a=tenant.account_id,
    )
    # Day 14's lot expires next (the clock runs on between purchases: seconds, not days).
    assert abs(next_maturity_at - (start + timedelta(days=14 + 2 + 30))) < timedelta(minutes=1)
