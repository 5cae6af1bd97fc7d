"""Ceiling C3: the database alone, running exactly the SQL a commit runs.

The statements are not written by hand. One commit (`POST /loyalty/retaildemand`) is sent to an
in-process instance of the service while the driver records every statement, its parameters
and the rows it returned. The replay then sends the same statements with the same parameters
over plain asyncpg connections, one transaction per sale, durable commits, as fast as the
database takes them. Per replay only what must differ is changed: the sale's MoySklad id (the
idempotency key), the customer (Zipf-chosen, like the service's own run) and the ids returned
by earlier statements of the same transaction (`RETURNING id` of the sale, the ledger
transaction and the lot), which later statements reference.

pgbench cannot carry a returned id into a later statement of a generated script without
hand-editing it, and a Python client that uses prepared statements, like the service, keeps
the comparison about the database; the client's own CPU is reported alongside.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from bench import loadgen
from bench.scenarios import TOKEN_HEADER, Workload
from bench.seed import Seeded, plain_url
from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.db import driver


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: tuple[Any, ...] | list[tuple[Any, ...]]
    many: bool
    returned: tuple[Any, ...]  # the first row's values, for RETURNING


@dataclass
class Recorder:
    statements: list[Statement] = field(default_factory=list)
    on: bool = False


def _install(recorder: Recorder) -> None:
    cursor = asyncpg_dialect.AsyncAdapt_asyncpg_cursor
    prepare_and_execute = cursor._prepare_and_execute
    executemany = cursor._executemany

    async def recorded_execute(self: Any, operation: str, parameters: Any) -> None:
        await prepare_and_execute(self, operation, parameters)
        if recorder.on:
            first = tuple(self._rows[0]) if self._rows else ()
            recorder.statements.append(Statement(operation, tuple(parameters or ()), False, first))

    async def recorded_executemany(self: Any, operation: str, seq: Any) -> Any:
        result = await executemany(self, operation, seq)
        if recorder.on:
            rows = [tuple(parameters) for parameters in seq]
            recorder.statements.append(Statement(operation, rows, True, ()))
        return result

    cursor._prepare_and_execute = recorded_execute  # type: ignore[method-assign]
    cursor._executemany = recorded_executemany  # type: ignore[method-assign]

    # The hot path's statements go straight to the driver (`loyalty.db.driver`).
    def on_driver(call: Any) -> Any:
        async def recorded(session: Any, statement: driver.Statement, params: Any) -> Any:
            result = await call(session, statement, params)
            if recorder.on:
                first = result[0] if isinstance(result, list) and result else result
                returned = tuple(first.values()) if first is not None else ()
                recorder.statements.append(
                    Statement(statement.sql, tuple(statement.bind(params)), False, returned)
                )
            return result

        return recorded

    for name in ("fetch_one", "fetch_all", "execute"):
        setattr(driver, name, on_driver(getattr(driver, name)))


async def _capture(url: str, seeded: Seeded, body: bytes, warm_body: bytes) -> list[Statement]:
    from loyalty.main import create_app

    recorder = Recorder()
    _install(recorder)
    app = create_app(
        Settings(DATABASE_URL=url, ACCESS_LOG=False, LOG_LEVEL="WARNING"), clock=Clock()
    )
    headers = {TOKEN_HEADER: seeded.token, "Content-Type": "application/json"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            # The first request warms caches (type introspection) that a steady state never sees.
            warm = await client.post("/loyalty/retaildemand", content=warm_body)
            assert warm.status_code == 201, warm.text
            recorder.on = True
            response = await client.post("/loyalty/retaildemand", content=body)
            recorder.on = False
            assert response.status_code == 201, response.text
    return recorder.statements


@dataclass(frozen=True)
class CommitScript:
    statements: list[Statement]
    sale_moysklad_id: str
    customer_id: uuid.UUID
    customer_moysklad_id: str


def capture_commit(url: str, seeded: Seeded, workload: Workload) -> CommitScript:
    """Record the SQL of one earning commit of 10 positions (the `commit 10` run's shape)."""
    asyncio.run(_distinctive_ids(url))
    warm_body, _, _ = workload.earning_commit(10)
    body, customer_moysklad_id, sale_moysklad_id = workload.earning_commit(10)
    statements = asyncio.run(_capture(url, seeded, body, warm_body))
    customer_id = asyncio.run(_customer_uuid(url, customer_moysklad_id))
    return CommitScript(statements, sale_moysklad_id, customer_id, customer_moysklad_id)


# Ids a commit creates and later statements reference. Moving their sequences far above any
# other number in a commit makes "this parameter is that returned id" unambiguous.
GENERATED_IDS = ("sale", "ledger_transaction", "points_lot")
DISTINCTIVE_ID_FLOOR = 10**12


async def _distinctive_ids(url: str) -> None:
    connection = await asyncpg.connect(plain_url(url))
    try:
        for rank, table in enumerate(GENERATED_IDS, start=1):
            # A separate range per table: a sale and its ledger transaction never share an id.
            floor = DISTINCTIVE_ID_FLOOR * rank
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" greatest({floor}, (SELECT coalesce(max(id), 0) FROM {table})))"
            )
    finally:
        await connection.close()


async def _customer_uuid(url: str, moysklad_id: str) -> uuid.UUID:
    connection = await asyncpg.connect(plain_url(url))
    try:
        value = await connection.fetchval(
            "SELECT id FROM customer WHERE moysklad_id = $1", moysklad_id
        )
    finally:
        await connection.close()
    assert isinstance(value, uuid.UUID)
    return value


KEYED_ID = re.compile(r"^(\w+):(\d+)$")


def _substitute(value: Any, mapping: dict[Any, Any], sale_old: str, sale_new: str) -> Any:
    if isinstance(value, list | tuple):  # array parameters (a posting's entries) too
        return type(value)(_substitute(item, mapping, sale_old, sale_new) for item in value)
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        # An array sent as the text of its literal (`driver.array_literal`): ids are bare items.
        items = value[1:-1].split(",") if value != "{}" else []
        return "{" + ",".join(_substitute_item(item, mapping) for item in items) + "}"
    if isinstance(value, str):
        if sale_old in value:
            return value.replace(sale_old, sale_new)
        match = KEYED_ID.match(value)
        if match and int(match.group(2)) in mapping:
            return f"{match.group(1)}:{mapping[int(match.group(2))]}"
    if isinstance(value, int) and not isinstance(value, bool) and value >= DISTINCTIVE_ID_FLOOR:
        return mapping.get(value, value)
    if isinstance(value, uuid.UUID):
        return mapping.get(value, value)
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


def _is_id(value: Any) -> bool:
    generated = isinstance(value, int) and not isinstance(value, bool)
    return (generated and value >= DISTINCTIVE_ID_FLOOR) or isinstance(value, uuid.UUID)


def _substitute_item(item: str, mapping: dict[Any, Any]) -> str:
    if item.isdigit() and int(item) >= DISTINCTIVE_ID_FLOOR:
        return str(mapping.get(int(item), item))
    try:
        as_uuid = uuid.UUID(item)
    except ValueError:
        return item
    return str(mapping.get(as_uuid, item))


@dataclass
class ReplayResult:
    commits: int
    errors: int
    seconds: float
    latencies: list[float]

    def as_run_result(self) -> loadgen.RunResult:
        samples = [loadgen.Sample("commit", latency, "ok") for latency in self.latencies]
        samples += [loadgen.Sample("commit", 0.0, "database error")] * self.errors
        return loadgen.RunResult(samples=samples, started_at=0.0, finished_at=self.seconds)


async def _replay(
    url: str,
    script: CommitScript,
    customers: Sequence[tuple[uuid.UUID, str]],
    weights: Sequence[float],
    connections: int,
    seconds: float,
) -> ReplayResult:
    rng = random.Random(7)
    cumulative = list(_accumulate(weights))
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        connection = await asyncpg.connect(
            plain_url(url), server_settings={"application_name": "bench-c3", "timezone": "UTC"}
        )
        try:
            while time.monotonic() < deadline:
                customer_id, customer_moysklad_id = rng.choices(
                    customers, cum_weights=cumulative, k=1
                )[0]
                mapping: dict[Any, Any] = {
                    script.customer_id: customer_id,
                    script.customer_moysklad_id: customer_moysklad_id,
                }
                sale_new = str(uuid.uuid4())
                started = time.monotonic()
                try:
                    async with connection.transaction():
                        for statement in script.statements:
                            if statement.many:
                                rows = [
                                    tuple(
                                        _substitute(
                                            value, mapping, script.sale_moysklad_id, sale_new
                                        )
                                        for value in row
                                    )
                                    for row in statement.parameters
                                ]
                                await connection.executemany(statement.sql, rows)
                                continue
                            arguments = [
                                _substitute(value, mapping, script.sale_moysklad_id, sale_new)
                                for value in statement.parameters
                            ]
                            row = await connection.fetchrow(statement.sql, *arguments)
                            if (
                                row is not None
                                and statement.returned
                                and "RETURNING" in statement.sql
                            ):
                                for old, new in zip(statement.returned, tuple(row), strict=False):
                                    # Only ids: the claim also returns the customer's row.
                                    if old != new and _is_id(old):
                                        mapping[old] = new
                except asyncpg.PostgresError as error:
                    errors += 1
                    if errors == 1:
                        print(f"C3 replay error: {error!r}", flush=True)
                    continue
                latencies.append(time.monotonic() - started)
        finally:
            await connection.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    return ReplayResult(len(latencies), errors, time.monotonic() - started, latencies)


def _accumulate(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


async def _customers(url: str, moysklad_ids: Sequence[str]) -> list[tuple[uuid.UUID, str]]:
    connection = await asyncpg.connect(plain_url(url))
    try:
        rows = await connection.fetch(
            "SELECT id, moysklad_id FROM customer WHERE moysklad_id = ANY($1::text[])",
            list(moysklad_ids),
        )
    finally:
        await connection.close()
    by_moysklad_id = {row["moysklad_id"]: row["id"] for row in rows}
    return [(by_moysklad_id[ms_id], ms_id) for ms_id in moysklad_ids]


def replay(
    url: str,
    script: CommitScript,
    seeded: Seeded,
    *,
    connections: int,
    seconds: float,
) -> ReplayResult:
    customers = asyncio.run(_customers(url, seeded.customer_ids))
    return asyncio.run(_replay(url, script, customers, seeded.weights, connections, seconds))
