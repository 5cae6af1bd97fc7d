"""A stateful model test: Hypothesis drives the real service and PostgreSQL through customers,
recalc, commits, replays, linked and unlinked returns, manual adjustments and the passing of
time, while an independent in-memory model predicts every balance.

After every step: the balance the till sees equals the model's, and `ledger verify` is green
(balance = Σ entries, every transaction sums to zero, no negative balance, each document applied
at most once, reversals within the original, running balances and versions chained).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.clock import Clock
from loyalty.customers import service as customers_service
from loyalty.ledger.audit import verify_ledger
from tests.conftest import Tenant, create_tenant
from tests.support import payloads
from tests.support.db import Database
from tests.support.server import LiveServer

EARN_PERCENT = Decimal(5)
EXPIRY = timedelta(days=30)
PRICES = [Decimal("100"), Decimal("250.50"), Decimal("999.99"), Decimal("37.10")]
_lot_numbers = itertools.count()


@dataclass
class ModelLot:
    number: int
    remaining: int
    expires_at: datetime
    expired: int = 0

    def order(self) -> tuple[datetime, int]:
        return (self.expires_at, self.number)


@dataclass
class ModelCustomer:
    lots: list[ModelLot] = field(default_factory=list)
    debt: int = 0

    def expire(self, now: datetime) -> None:
        for lot in self.lots:
            if lot.expires_at <= now:
                lot.expired += lot.remaining
                lot.remaining = 0
        self.lots = [lot for lot in self.lots if lot.remaining > 0]

    def available(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.lots if lot.expires_at > now)

    def credit(self, points: int, expires_at: datetime, now: datetime) -> ModelLot | None:
        if expires_at <= now:
            return None  # points whose life is over go straight to expired
        repaid = min(points, self.debt)
        self.debt -= repaid
        if points - repaid == 0:
            return None
        lot = ModelLot(next(_lot_numbers), points - repaid, expires_at)
        self.lots.append(lot)
        return lot

    def draw(self, points: int, first: list[ModelLot] | None = None) -> tuple[list[ModelLot], int]:
        """Take points: preferred lots, then soonest expiry. Returns lots drawn and shortfall."""
        drawn: list[ModelLot] = []
        ordered = [lot for lot in first or [] if lot in self.lots] + sorted(
            (lot for lot in self.lots if lot not in (first or [])), key=ModelLot.order
        )
        for lot in ordered:
            if points == 0:
                break
            take = min(lot.remaining, points)
            if take:
                lot.remaining -= take
                points -= take
                drawn.append(lot)
        self.lots = [lot for lot in self.lots if lot.remaining > 0]
        return drawn, points


@dataclass
class ModelSale:
    sale_id: str
    customer: str
    body: dict[str, Any]
    quantity: int
    spent: int
    earned: int
    earn_lot: ModelLot | None
    drawn_expiries: list[datetime]
    returned: int = 0
    forgiven: int = 0


def share(points: int, returned: int, sold: int) -> int:
    if returned >= sold:
        return points
    return int((Decimal(points) * returned / sold).to_integral_value(rounding=ROUND_HALF_UP))


def floor_percent(amount_minor: int, percent: Decimal) -> int:
    return int(Decimal(amount_minor) * percent // 10000)


def minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


class LedgerMachine(RuleBasedStateMachine):
    db: Database
    server: LiveServer

    customers = Bundle("customers")

    def __init__(self) -> None:
        super().__init__()
        self.tenant: Tenant = create_tenant(self.db, self.server)
        self.tenant.set_program(earn_percent=EARN_PERCENT, max_spend_percent=50, expiry_days=30)
        self.clock: Clock = self.server.app.state.clock
        self.model: dict[str, ModelCustomer] = {}
        self.sales: list[ModelSale] = []
        self.time_steps = 0

    def now(self) -> datetime:
        return self.clock.now()

    def teardown(self) -> None:
        self.clock.reset()
        self.tenant.client.close()

    # -- customers ---------------------------------------------------------------------------------
    @rule(target=customers)
    def register(self) -> str:
        ms_id = self.tenant.register()
        self.model[ms_id] = ModelCustomer()
        return ms_id

    # -- sales -------------------------------------------------------------------------------------
    @rule(customer=customers, quantity=st.integers(1, 5), price=st.sampled_from(PRICES))
    def earning_sale(self, customer: str, quantity: int, price: Decimal) -> None:
        position = payloads.position(payloads.new_id(), quantity, float(price))
        answer = self.tenant.recalc(payloads.recalc(customer, [position]))
        expected_earn = floor_percent(minor(price) * quantity, EARN_PERCENT)
        assert answer["bonusProgram"]["bonusValueToEarn"] == expected_earn
        self._commit(customer, answer, quantity, spent=0, earned=expected_earn)

    @rule(
        customer=customers,
        quantity=st.integers(1, 5),
        price=st.sampled_from(PRICES),
        preferred=st.none() | st.integers(0, 400),
    )
    def spending_sale(
        self, customer: str, quantity: int, price: Decimal, preferred: int | None
    ) -> None:
        model = self.model[customer]
        model.expire(self.now())
        total = minor(price) * quantity
        expected_spend = min(model.available(self.now()), floor_percent(total, Decimal(50)))
        if preferred is not None:
            expected_spend = min(expected_spend, preferred)
        expected_earn = floor_percent(total - expected_spend * 100, EARN_PERCENT)
        position = payloads.position(payloads.new_id(), quantity, float(price))
        answer = self.tenant.recalc(
            payloads.recalc(customer, [position], spending=True, preferred=preferred)
        )
        bonus = answer["bonusProgram"]
        assert (bonus["bonusValueToSpend"], bonus["bonusValueToEarn"]) == (
            expected_spend,
            expected_earn,
        )
        self._commit(customer, answer, quantity, spent=expected_spend, earned=expected_earn)

    def _commit(
        self, customer: str, answer: dict[str, Any], quantity: int, *, spent: int, earned: int
    ) -> None:
        sale_id = payloads.new_id()
        body = payloads.sale_from_recalc(sale_id, customer, answer)
        response = self.tenant.post("/retaildemand", body)
        assert response.status_code == 201, response.text
        model = self.model[customer]
        model.expire(self.now())
        drawn, shortfall = model.draw(spent)
        assert shortfall == 0
        earn_lot = model.credit(earned, self.now() + EXPIRY, self.now()) if earned else None
        self.sales.append(
            ModelSale(
                sale_id,
                customer,
                body,
                quantity,
                spent,
                earned,
                earn_lot,
                [lot.expires_at for lot in drawn],
            )
        )

    @precondition(lambda self: bool(self.sales))
    @rule(data=st.data())
    def replay_sale(self, data: st.DataObject) -> None:
        sale = data.draw(st.sampled_from(self.sales))
        response = self.tenant.post("/retaildemand", sale.body)
        assert (
            response.status_code == 201 and response.headers.get("Idempotency-Replayed") == "true"
        )

    @precondition(lambda self: bool(self.sales))
    @rule(data=st.data())
    def conflicting_copy_is_refused(self, data: st.DataObject) -> None:
        sale = data.draw(st.sampled_from(self.sales))
        changed = sale.body | {"name": "изменённый номер"}
        assert self.tenant.post("/retaildemand", changed).status_code == 409

    # -- returns -----------------------------------------------------------------------------------
    @precondition(
        lambda self: any(sale.returned < sale.quantity and not sale.spent for sale in self.sales)
    )
    @rule(data=st.data())
    def partial_return_of_an_earning_sale(self, data: st.DataObject) -> None:
        sale = data.draw(
            st.sampled_from([s for s in self.sales if s.returned < s.quantity and not s.spent])
        )
        units = data.draw(st.integers(1, sale.quantity - sale.returned))
        item = sale.body["positions"][0]
        position = payloads.position(item["assortment"]["meta"]["id"], units, item["price"])
        response = self.tenant.post(
            "/retailsalesreturn", payloads.sales_return(payloads.new_id(), sale.sale_id, [position])
        )
        assert response.status_code == 201, response.text
        reclaim = share(sale.earned, sale.returned + units, sale.quantity) - share(
            sale.earned, sale.returned, sale.quantity
        )
        sale.returned += units
        self._reclaim(sale.customer, reclaim, sale)

    @precondition(lambda self: any(sale.returned == 0 and sale.spent for sale in self.sales))
    @rule(data=st.data())
    def full_return_of_a_spending_sale(self, data: st.DataObject) -> None:
        sale = data.draw(st.sampled_from([s for s in self.sales if s.returned == 0 and s.spent]))
        positions = [
            payloads.position(item["assortment"]["meta"]["id"], item["quantity"], item["price"])
            for item in sale.body["positions"]
        ]
        response = self.tenant.post(
            "/retailsalesreturn", payloads.sales_return(payloads.new_id(), sale.sale_id, positions)
        )
        assert response.status_code == 201, response.text
        sale.returned = sale.quantity
        model = self.model[sale.customer]
        model.expire(self.now())
        # Refunded points keep the latest expiry of the points they replace.
        model.credit(sale.spent, max(sale.drawn_expiries), self.now())
        self._reclaim(sale.customer, sale.earned, sale)

    @rule(
        customer=customers,
        amount=st.sampled_from([Decimal("10"), Decimal("199.99"), Decimal("1500")]),
    )
    def unlinked_return(self, customer: str, amount: Decimal) -> None:
        position = payloads.position(payloads.new_id(), 1, float(amount))
        body = payloads.sales_return(payloads.new_id(), None, [position], ms_id=customer)
        assert self.tenant.post("/retailsalesreturn", body).status_code == 201
        self._reclaim(customer, floor_percent(minor(amount), EARN_PERCENT), None)

    def _reclaim(self, customer: str, points: int, sale: ModelSale | None) -> None:
        """The sale's own lot first; forgiven as far as that lot expired; then other points;
        then debt."""
        model = self.model[customer]
        model.expire(self.now())
        earn_lot = sale.earn_lot if sale is not None else None
        if earn_lot is not None and earn_lot in model.lots:
            take = min(earn_lot.remaining, points)
            earn_lot.remaining -= take
            points -= take
            model.lots = [lot for lot in model.lots if lot.remaining > 0]
        if sale is not None and earn_lot is not None:
            forgiven = min(points, earn_lot.expired - sale.forgiven)
            sale.forgiven += forgiven
            points -= forgiven
        _, shortfall = model.draw(points)
        model.debt += shortfall

    # -- manual changes ---------------------------------------------------------------------------
    @rule(customer=customers, points=st.integers(-150, 150).filter(bool))
    def adjust(self, customer: str, points: int) -> None:
        model = self.model[customer]
        model.expire(self.now())

        async def work(session: AsyncSession) -> Any:
            return await customers_service.adjust_points(
                session,
                account_id=self.tenant.account_id,
                customer=customer,
                points=points,
                reason="Проверка модели",
                idempotency_key=payloads.new_id(),
                actor="model",
                now=self.now(),
            )

        if points < 0 and -points > model.available(self.now()):
            with pytest.raises(Exception, match="Недостаточно баллов"):
                self.db.run(work)
            return
        self.db.run(work)
        if points > 0:
            model.credit(points, self.now() + EXPIRY, self.now())
        else:
            model.draw(-points)

    # -- time --------------------------------------------------------------------------------------
    @precondition(lambda self: self.time_steps < 20)
    @rule(days=st.sampled_from([0, 1, 7, 29, 30, 31, 45]))
    def time_passes(self, days: int) -> None:
        # Whole days plus 7 hours keep every expiry far from the moment it is checked.
        self.clock.advance(timedelta(days=days, hours=7))
        self.time_steps += 1

    # -- invariants --------------------------------------------------------------------------------
    @invariant()
    def balances_match_the_model(self) -> None:
        for ms_id, model in self.model.items():
            assert self.tenant.balance(ms_id) == model.available(self.now()), ms_id

    @invariant()
    def ledger_verifies(self) -> None:
        async def work(session: AsyncSession) -> Any:
            return await verify_ledger(session, self.tenant.account_id)

        assert self.db.run(work) == []


FULL_SCALE = os.environ.get("CHAOS_SCALE") == "full"


# The full run walks 60 machines of 40 steps over HTTP: many minutes on two cores.
@pytest.mark.timeout(1800 if FULL_SCALE else 300)
def test_the_ledger_agrees_with_an_independent_model(db: Database, server: LiveServer) -> None:
    LedgerMachine.db = db
    LedgerMachine.server = server
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=60 if FULL_SCALE else 15,
            stateful_step_count=40 if FULL_SCALE else 25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
