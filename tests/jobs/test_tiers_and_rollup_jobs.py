"""The worker's tier re-evaluation and daily-report rollup: done once, even by two runners."""

from __future__ import annotations

from datetime import timedelta

from loyalty.common.clock import Clock
from tests.conftest import Tenant
from tests.jobs.conftest import RunJobs
from tests.support import payloads
from tests.support.vouchers import Operator
from tests.tiers.test_tiers import PRODUCT, TIERS, changes, next_month, stored_tier, with_tiers


def test_months_leaving_the_window_are_applied_by_the_worker_once(
    tenant: Tenant, operator: Operator, clock: Clock, run_jobs: RunJobs
) -> None:
    customer = tenant.register()
    with_tiers(operator, TIERS | {"windowMonths": 1})
    tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
    assert stored_tier(tenant, customer) == "Серебро"

    next_month(clock)  # the purchase's month has left the window
    summaries = run_jobs(clock.now(), runners=2)

    assert all(summary.failed_jobs == [] for summary in summaries)
    assert sum(summary.tiers_reevaluated for summary in summaries) >= 1
    assert stored_tier(tenant, customer) == "Бронза"
    assert changes(tenant, customer)[-1] == ("Серебро", "Бронза", "window")
    assert [move for move in changes(tenant, customer) if move[2] == "window"] == [
        ("Серебро", "Бронза", "window")
    ]


def test_closed_days_are_rolled_up_once(tenant: Tenant, clock: Clock, run_jobs: RunJobs) -> None:
    customer = tenant.register()
    tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])

    summaries = run_jobs(clock.now() + timedelta(days=2), runners=2)

    assert all(summary.failed_jobs == [] for summary in summaries)
    rows = tenant.db.fetch(
        "SELECT sum(sales_with_program_count) AS sales FROM report_daily_store"
        " WHERE account_id = :a",
        a=tenant.account_id,
    )
    assert rows[0]["sales"] == 1
