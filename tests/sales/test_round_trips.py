"""A sale's round trips: a known customer is found, share-locked and their balance locked for
update by one statement; the customer's lock is never taken by a second one."""

from __future__ import annotations

from tests.conftest import Tenant
from tests.support import payloads
from tests.support.statements import statement_recorder

CUSTOMER_LOOK_UP = "FOR SHARE OF customer"
BALANCE_LOCK = "FOR UPDATE OF customer_balance"


def test_a_known_customer_and_their_lock_cost_one_round_trip(tenant: Tenant) -> None:
    tenant.set_program(earn_percent=10)
    customer = tenant.register()
    tenant.buy(customer, [payloads.position(price=1000)])  # earns 100; warms the statements
    recalc = tenant.recalc(
        payloads.recalc(customer, [payloads.position(price=1000)], spending=True, preferred=40)
    )
    assert recalc["bonusProgram"]["bonusValueToSpend"] == 40
    sale = payloads.sale(
        payloads.new_id(),
        customer,
        [payloads.position(price=1000, discounted_price=960)],
        spend=40,
    )

    with statement_recorder() as recorder, recorder.recording() as recorded:
        assert tenant.post("/retaildemand", sale).status_code == 201

    look_ups = [sql for sql in recorded if CUSTOMER_LOOK_UP in sql]
    locks = [sql for sql in recorded if BALANCE_LOCK in sql]
    assert len(look_ups) == 1, recorded
    assert locks == look_ups, recorded
    # The sale claimed, the customer with their lock, the posting, the lines (and at most the
    # till's token, should the account cache be cold).
    assert 4 <= len(recorded) <= 5, recorded
    assert tenant.balance(customer) == 100 - 40 + 96


def test_a_customer_enrolled_at_the_till_is_locked_the_long_way(tenant: Tenant) -> None:
    tenant.set_program(earn_percent=10, auto_enroll=True)
    newcomer = payloads.new_id()
    sale = payloads.sale(payloads.new_id(), newcomer, [payloads.position(price=1000)])

    with statement_recorder() as recorder, recorder.recording() as recorded:
        assert tenant.post("/retaildemand", sale).status_code == 201

    assert sum(CUSTOMER_LOOK_UP in sql for sql in recorded) == 2, recorded
    assert sum(BALANCE_LOCK in sql for sql in recorded) == 2, recorded
    assert tenant.balance(newcomer) == 100
