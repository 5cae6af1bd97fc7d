"""The maturity job posts due activations and expiries through the ledger, once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from loyalty.common.clock import Clock
from loyalty.config import Settings
from tests.conftest import Tenant
from tests.jobs.conftest import TEST_JOBS, RunJobs, run_job_runner
from tests.support import payloads


def _customer_id(tenant: Tenant, ms_id: str) -> str:
    return str(
        tenant.db.scalar(
            "SELECT id FROM customer WHERE account_id = :account AND moysklad_id = :ms_id",
            account=tenant.account_id,
            ms_id=ms_id,
        )
    )


def _transactions(tenant: Tenant, kind: str) -> list[dict[str, object]]:
    return tenant.db.fetch(
        "SELECT t.id, t.customer_id, t.idempotency_key, t.effective_at,"
        " (SELECT sum(e.amount_points) FROM ledger_entry e WHERE e.account_id = t.account_id"
        "   AND e.transaction_id = t.id AND e.bucket = 'expired') AS expired_points"
        " FROM ledger_transaction t WHERE t.account_id = :account AND t.kind = :kind",
        account=tenant.account_id,
        kind=kind,
    )


def test_expiry_is_posted_as_a_ledger_transaction_once(tenant: Tenant, run_jobs: RunJobs) -> None:
    tenant.set_program(expiry_days=30, earn_percent=10)
    ms_id = tenant.register()
    tenant.buy(ms_id, [payloads.position(price=1000)])
    assert tenant.stored_balance(ms_id)["available_points"] == 100

    run_jobs(Clock().now() + timedelta(days=29))
    assert _transactions(tenant, "expiry") == []

    later = Clock().now() + timedelta(days=31)
    run_jobs(later)
    expiries = _transactions(tenant, "expiry")
    assert len(expiries) == 1
    assert expiries[0]["expired_points"] == 100
    assert str(expiries[0]["customer_id"]) == _customer_id(tenant, ms_id)
    # The stored balance itself changed (not just the computed read), and nothing is left due.
    assert tenant.stored_balance(ms_id)["available_points"] == 0
    assert (
        tenant.db.scalar(
            "SELECT next_maturity_at FROM customer_balance WHERE account_id = :account",
            account=tenant.account_id,
        )
        is None
    )

    run_jobs(later + timedelta(days=1))
    assert len(_transactions(tenant, "expiry")) == 1


def test_pending_points_are_activated(tenant: Tenant, run_jobs: RunJobs) -> None:
    tenant.set_program(activation_delay_days=14, earn_percent=10)
    ms_id = tenant.register()
    tenant.buy(ms_id, [payloads.position(price=500)])
    assert tenant.stored_balance(ms_id) == {
        "available_points": 0,
        "pending_points": 50,
        "debt_points": 0,
    }

    run_jobs(Clock().now() + timedelta(days=15))

    assert len(_transactions(tenant, "activation")) == 1
    assert tenant.stored_balance(ms_id) == {
        "available_points": 50,
        "pending_points": 0,
        "debt_points": 0,
    }


def test_two_runners_at_once_post_every_expiry_exactly_once(
    tenant: Tenant, run_jobs: RunJobs
) -> None:
    tenant.set_program(expiry_days=10, earn_percent=10)
    customers = [tenant.register() for _ in range(7)]
    for ms_id in customers:
        tenant.buy(ms_id, [payloads.position(price=100)])
        tenant.buy(ms_id, [payloads.position(price=200)])

    later = Clock().now() + timedelta(days=11)
    run_jobs(later, runners=2)
    run_jobs(later, runners=2)

    expiries = _transactions(tenant, "expiry")
    assert len(expiries) == 14  # one per lot: two lots per customer
    assert len({row["idempotency_key"] for row in expiries}) == 14
    assert sum(int(str(row["expired_points"])) for row in expiries) == 7 * 30
    for ms_id in customers:
        assert tenant.stored_balance(ms_id)["available_points"] == 0


def test_a_stopping_runner_leaves_the_work_to_the_next_run(
    tenant: Tenant, app_settings: Settings
) -> None:
    tenant.set_program(expiry_days=5, earn_percent=10)
    tenant.buy(tenant.register(), [payloads.position(price=100)])
    later = Clock().now() + timedelta(days=6)

    stopped = run_job_runner(app_settings, later, replace(TEST_JOBS, should_stop=lambda: True))
    assert stopped.maturities_posted_customers == 0
    assert _transactions(tenant, "expiry") == []

    run_job_runner(app_settings, later)
    assert len(_transactions(tenant, "expiry")) == 1
