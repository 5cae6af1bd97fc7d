"""Housekeeping: throttle counters and expiry-warning marks that can matter no more are purged
in batches; live ones are kept, and two runners at once purge each row once."""

from __future__ import annotations

from datetime import timedelta

from loyalty.common.clock import Clock
from tests.conftest import Tenant
from tests.jobs.conftest import RunJobs


def _throttle_keys(tenant: Tenant) -> set[str]:
    rows = tenant.db.fetch(
        "SELECT client_key FROM client_throttle WHERE account_id = :account",
        account=tenant.account_id,
    )
    return {row["client_key"] for row in rows}


def _warning_dates(tenant: Tenant) -> list[str]:
    rows = tenant.db.fetch(
        "SELECT expires_on::text AS day FROM expiry_warning WHERE account_id = :account"
        " ORDER BY expires_on",
        account=tenant.account_id,
    )
    return [row["day"] for row in rows]


def test_purges_what_can_matter_no_more_and_keeps_the_rest(
    tenant: Tenant, run_jobs: RunJobs
) -> None:
    now = Clock().now()
    hour, day = timedelta(hours=1), timedelta(days=1)
    for key, started_ago, locked_for in [
        ("stale", 2 * day, None),  # window long over, nobody locked out: purged
        ("stale-locked", 2 * day, hour),  # still locks its client out: kept
        ("stale-lock-over", 3 * day, -hour),  # the lockout ended too: purged
        ("fresh", timedelta(minutes=1), None),  # a window in progress: kept
    ]:
        tenant.db.fetch(
            "INSERT INTO client_throttle (account_id, scope, client_key, window_started_at,"
            " hits, locked_until) VALUES (:account, 'code_lookup', :key, :started, 3, :locked)"
            " RETURNING 1",
            account=tenant.account_id,
            key=key,
            started=now - started_ago,
            locked=None if locked_for is None else now + locked_for,
        )
    customer = tenant.register()
    for days in (-30, -3, 0, 10):  # expiry dates relative to today
        tenant.db.fetch(
            "INSERT INTO expiry_warning (account_id, customer_id, expires_on, expiring_points)"
            " SELECT account_id, id, CAST(:day AS date), 5 FROM customer"
            " WHERE account_id = :account AND moysklad_id = :ms_id RETURNING 1",
            account=tenant.account_id,
            ms_id=customer,
            day=(now + timedelta(days=days)).date(),
        )
    kept_dates = _warning_dates(tenant)[2:]

    summaries = run_jobs(now, runners=2)

    assert _throttle_keys(tenant) == {"stale-locked", "fresh"}
    assert _warning_dates(tenant) == kept_dates
    # Each row went once, whichever runner took it (other tests' rows may be purged as well).
    assert sum(summary.housekeeping_rows_purged for summary in summaries) >= 4
    assert all(not summary.failed_jobs for summary in summaries)

    # A later run finds nothing more of this tenant's to purge.
    run_jobs(now + timedelta(minutes=1))
    assert _throttle_keys(tenant) == {"stale-locked", "fresh"}
    assert _warning_dates(tenant) == kept_dates
