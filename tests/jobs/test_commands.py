"""`loyalty jobs run-once` for cron and `loyalty worker`, which stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from loyalty.cli import cli
from tests.conftest import Tenant
from tests.support import payloads


def test_run_once_posts_due_work_and_prints_a_summary(tenant: Tenant, database_url: str) -> None:
    tenant.set_program(activation_delay_days=0, earn_percent=10, expiry_days=1)
    ms_id = tenant.register()
    tenant.buy(ms_id, [payloads.position(price=1000)])
    # Make the lot due now: the command runs on the wall clock.
    tenant.db.fetch(
        "UPDATE customer_balance SET next_maturity_at = now() - interval '1 minute'"
        " WHERE account_id = :account RETURNING 1",
        account=tenant.account_id,
    )
    tenant.db.fetch(
        "UPDATE points_lot SET expires_at = now() - interval '1 minute'"
        " WHERE account_id = :account RETURNING 1",
        account=tenant.account_id,
    )

    result = CliRunner().invoke(
        cli, ["jobs", "run-once"], env={"DATABASE_URL": database_url}, catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["maturities_posted_customers"] >= 1
    assert set(summary) == {
        "maturities_posted_customers",
        "birthday_bonuses_paid",
        "expiry_warnings",
        "webhook_events_purged",
        "tiers_reevaluated",
        "report_days_rolled_up",
        "housekeeping_rows_purged",
        "failed_jobs",
        "webhooks",
    }
    assert summary["failed_jobs"] == []
    assert set(summary["webhooks"]) == {"delivered", "retrying", "dead"}
    assert tenant.stored_balance(ms_id)["available_points"] == 0


def test_worker_stops_on_sigterm(database_url: str) -> None:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "LOYALTY_WORKER_INTERVAL_SECONDS": "3600",
        "LOYALTY_LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "loyalty", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        deadline = time.monotonic() + 30
        line = ""
        while "worker started" not in line and time.monotonic() < deadline:
            line = worker.stderr.readline()
        assert "worker started" in line
        time.sleep(0.5)  # let the first job run begin
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert "worker stopped" in worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
