"""`loyalty serve --workers 2` as a real process against the machine's PostgreSQL server:
it serves, /metrics adds up both workers, and SIGTERM in the middle of traffic lets every
request already in flight finish."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts import service as accounts_service
from loyalty.ledger.audit import verify_ledger
from tests.conftest import TOKEN_HEADER
from tests.support import payloads
from tests.support.database import empty_database
from tests.support.db import Database
from tests.support.locks import HeldRowLock
from tests.support.server import free_port

SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PHONE = "+79035550142"


def server_reachable() -> bool:
    try:
        asyncio.run(asyncio.wait_for(_ping(), timeout=3))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


async def _ping() -> None:
    connection = await asyncpg.connect(SERVER_URL)
    await connection.close()


pytestmark = pytest.mark.skipif(
    not server_reachable(), reason="no PostgreSQL server on 127.0.0.1:5432"
)


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    metrics_dir: Path

    def wait_until_ready(self, timeout_seconds: float = 90) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("loyalty serve did not become ready:\n" + self.log_path.read_text())

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]


@pytest.fixture
def scratch_url() -> Iterator[str]:
    with empty_database("serve", SERVER_URL) as url:
        yield url


@pytest.fixture
def served(scratch_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    port = free_port()
    log_path = tmp_path / "serve.log"
    metrics_dir = tmp_path / "metrics"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": scratch_url,
        "LOYALTY_ENV": "production",
        "LOYALTY_PORT": str(port),
        "LOYALTY_METRICS_DIR": str(metrics_dir),
        # Requests below wait on a row lock held by the test, well within these bounds.
        "LOYALTY_DATABASE_LOCK_TIMEOUT_MS": "60000",
        "LOYALTY_DATABASE_STATEMENT_TIMEOUT_MS": "60000",
        "LOYALTY_SHUTDOWN_TIMEOUT_SECONDS": "60",
        "LOYALTY_REQUEST_DEADLINE_SECONDS": "60",
        "LOYALTY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LOYALTY_BLIND_INDEX_KEY": secrets.token_urlsafe(32),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loyalty", "serve", "--workers", "2"],
            env=environment,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = ServeProcess(process, f"http://127.0.0.1:{port}", log_path, metrics_dir)
    try:
        served.wait_until_ready()
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def create_account(url: str) -> tuple[Any, str]:
    async def work(session: AsyncSession) -> Any:
        return await accounts_service.create_account(session, name="Сеть магазинов")

    created = Database(url).run(work)
    return created.id, created.token


def counted(base_url: str, route: str, status: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "loyalty_http_request_duration_seconds_count"
                and labels.get("route") == route
                and labels.get("status") == status
            ):
                total += sample.value
    return total


def test_two_workers_serve_report_together_and_drain_on_sigterm(
    served: ServeProcess, scratch_url: str
) -> None:
    account_id, token = create_account(scratch_url)
    till = httpx.Client(
        base_url=f"{served.base_url}/loyalty", headers={TOKEN_HEADER: token}, timeout=120
    )
    ms_id = payloads.new_id()
    registered = till.post("/counterparty", json=payloads.counterparty(ms_id, phone=PHONE))
    assert registered.status_code == 201, registered.text
    recalc = payloads.recalc(ms_id, [payloads.position(price=250)])

    # Traffic spread over both workers; /metrics (served by either) counts all of it.
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: till.post("/retaildemand/recalc", json=recalc).status_code, range(40)
            )
        )
    assert statuses == [200] * 40
    assert counted(served.base_url, "/loyalty/retaildemand/recalc", "200") == 40
    assert len(list(served.metrics_dir.glob("*.db"))) >= 2, "one set of files per worker"

    # Sales for a customer whose balance row the test holds locked: they are in flight,
    # inside the server, waiting in PostgreSQL, when SIGTERM arrives.
    lock = HeldRowLock(
        scratch_url,
        "SELECT 1 FROM customer_balance WHERE account_id = $1 FOR UPDATE",
        account_id,
    )
    sale_ids = [payloads.new_id() for _ in range(6)]
    background: list[int | str] = []
    stop_background = threading.Event()

    def background_traffic() -> None:
        with httpx.Client(
            base_url=f"{served.base_url}/loyalty", headers={TOKEN_HEADER: token}, timeout=120
        ) as client:
            while not stop_background.is_set():
                try:
                    background.append(client.post("/retaildemand/recalc", json=recalc).status_code)
                except httpx.TransportError as error:
                    background.append(type(error).__name__)

    traffic = threading.Thread(target=background_traffic, daemon=True)
    with ThreadPoolExecutor(max_workers=len(sale_ids)) as pool:
        try:
            sales: list[Future[httpx.Response]] = [
                pool.submit(
                    till.post,
                    "/retaildemand",
                    json=payloads.sale(sale_id, ms_id, [payloads.position(price=250)]),
                )
                for sale_id in sale_ids
            ]
            traffic.start()
            lock.wait_for_waiting_requests(len(sale_ids))
            time.sleep(0.5)  # other tills keep being served while these sales wait
            stop_background.set()
            traffic.join(timeout=120)
            served.process.send_signal(signal.SIGTERM)
            time.sleep(1.5)  # the workers are draining now, the sales still waiting
            assert served.process.poll() is None, "exited with requests in flight"
            assert not any(future.done() for future in sales)
        finally:
            stop_background.set()  # a failure above must not leave the thread running
            lock.release()
        responses = [future.result(timeout=120) for future in sales]
    till.close()

    assert [response.status_code for response in responses] == [201] * len(sale_ids)
    assert len(background) > 1 and set(background) == {200}, background
    assert served.process.wait(timeout=120) == 0

    database = Database(scratch_url)
    stored = database.scalar(
        "SELECT count(*) FROM sale WHERE account_id = :account", account=account_id
    )
    assert stored == len(sale_ids)

    async def audit(session: AsyncSession) -> Any:
        return await verify_ledger(session, account_id)

    assert database.run(audit) == []

    lines = served.log_lines()  # every line JSON, none with the customer's phone
    assert any(line["logger"] == "loyalty.access" and line.get("request_id") for line in lines)
    assert not any("5550142" in json.dumps(line, ensure_ascii=False) for line in lines)
    assert any("Waiting for connections to close" in line["message"] for line in lines)
