"""A small HTTP/1.1 load generator for the benchmarks: closed loop (find the maximum) and open
loop (fixed rate, latency measured from the *intended* send time, so a stall is not hidden:
coordinated-omission safe, like wrk2 or `autocannon -R`).

Requests are raw bytes over keep-alive connections on uvloop, so the generator costs far less
CPU than an HTTP client library and leaves the cores to the system under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from loyalty.common.gc_tuning import tune_for_serving


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Response:
    status: int
    body: bytes


# A flow is one logical operation (a sale = recalc then commit); it returns its own outcome.
Flow = Callable[["Connection"], Awaitable[str]]


@dataclass
class Sample:
    kind: str
    latency_seconds: float
    outcome: str  # "ok" or a short reason
    intended_at_seconds: float = 0.0  # when it was meant to start, from the run's start


@dataclass
class RunResult:
    samples: list[Sample] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    scheduled: int = 0
    dropped: int = 0  # open loop: flows that never got a connection before the run ended

    @property
    def seconds(self) -> float:
        return self.finished_at - self.started_at

    def where(self, keep: Callable[[Sample], bool], *, from_seconds: float = 0.0) -> RunResult:
        """The samples `keep` accepts, as a run of their own starting `from_seconds` in."""
        return RunResult(
            samples=[sample for sample in self.samples if keep(sample)],
            started_at=self.started_at + from_seconds,
            finished_at=self.finished_at,
            scheduled=self.scheduled,
            dropped=self.dropped,
        )

    def of(self, kind: str | None = None) -> list[Sample]:
        return [sample for sample in self.samples if kind is None or sample.kind == kind]

    def throughput(self, kind: str | None = None) -> float:
        ok = [sample for sample in self.of(kind) if sample.outcome == "ok"]
        return len(ok) / self.seconds if self.seconds else 0.0

    def errors(self, kind: str | None = None) -> int:
        return sum(sample.outcome != "ok" for sample in self.of(kind))

    def percentile_ms(self, quantile: float, kind: str | None = None) -> float:
        latencies = sorted(sample.latency_seconds for sample in self.of(kind))
        if not latencies:
            return 0.0
        index = min(len(latencies) - 1, max(0, round(quantile * len(latencies)) - 1))
        return latencies[index] * 1000


class Connection:
    """One keep-alive HTTP/1.1 connection; requests on it are strictly sequential."""

    def __init__(self, host: str, port: int, default_headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.default_headers = default_headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def send(self, request: Request) -> Response:
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        headers = self.default_headers | dict(request.headers)
        if request.body:
            headers.setdefault("Content-Type", "application/json")
        headers["Content-Length"] = str(len(request.body))
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + request.body)
        try:
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("connection closed")
            status = int(status_line.split(b" ", 2)[1])
            length = 0
            keep_alive = True
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value.strip())
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    keep_alive = False
            body = await self.reader.readexactly(length) if length else b""
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            await self.close()
            raise
        if not keep_alive:
            await self.close()
        return Response(status, body)

    async def json(self, request: Request) -> tuple[int, Any]:
        response = await self.send(request)
        return response.status, (json.loads(response.body) if response.body else None)


class Pool:
    def __init__(self, host: str, port: int, size: int, default_headers: dict[str, str]) -> None:
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(size):
            self.idle.put_nowait(Connection(host, port, default_headers))


async def _timed(
    result: RunResult, kind: str, flow: Flow, connection: Connection, intended: float
) -> None:
    try:
        outcome = await flow(connection)
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
        outcome = f"connection: {type(error).__name__}"
    result.samples.append(
        Sample(kind, time.perf_counter() - intended, outcome, intended - result.started_at)
    )


async def closed_loop(
    host: str,
    port: int,
    flows: Callable[[int], tuple[str, Flow]],
    *,
    connections: int,
    seconds: float,
    warmup_seconds: float = 0.0,
    headers: dict[str, str] | None = None,
) -> RunResult:
    """Each connection sends its next flow as soon as the previous one answered."""
    result = RunResult()
    stop_at = time.perf_counter() + warmup_seconds + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        connection = Connection(host, port, headers or {})
        try:
            while time.perf_counter() < stop_at:
                kind, flow = flows(next(counter))
                started = time.perf_counter()
                await _timed(result, kind, flow, connection, started)
        finally:
            await connection.close()

    measuring = asyncio.get_running_loop().create_future()

    async def start_measuring() -> None:
        await asyncio.sleep(warmup_seconds)
        result.samples.clear()
        result.started_at = time.perf_counter()
        measuring.set_result(None)

    await asyncio.gather(start_measuring(), *(worker() for _ in range(connections)))
    result.finished_at = time.perf_counter()
    return result


async def open_loop(
    host: str,
    port: int,
    flows: Callable[[int], tuple[str, Flow]],
    *,
    rate_per_second: float,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
) -> RunResult:
    """Start flow i at t0 + i / rate whatever happened before; latency counts from that moment.
    A flow waiting for a free connection is late, and its lateness is in its latency."""
    result = RunResult()
    pool = Pool(host, port, connections, headers or {})
    interval = 1.0 / rate_per_second
    total = int(rate_per_second * seconds)
    result.scheduled = total
    result.started_at = time.perf_counter()
    deadline = result.started_at + seconds + 10  # allow the tail to drain, bounded
    tasks: list[asyncio.Task[None]] = []

    async def run_one(index: int, intended: float) -> None:
        connection = await pool.idle.get()
        try:
            kind, flow = flows(index)
            await _timed(result, kind, flow, connection, intended)
        finally:
            pool.idle.put_nowait(connection)

    for index in range(total):
        intended = result.started_at + index * interval
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(run_one(index, intended)))
    pending = [task for task in tasks if not task.done()]
    if pending:
        _done, still_pending = await asyncio.wait(
            pending, timeout=max(0.0, deadline - time.perf_counter())
        )
        for task in still_pending:
            task.cancel()
        result.dropped = len(still_pending)
    result.finished_at = result.started_at + seconds
    while not pool.idle.empty():
        await pool.idle.get_nowait().close()
    return result


def run(coroutine: Awaitable[RunResult]) -> RunResult:
    """Run on uvloop when it is installed (it is, with uvicorn[standard]).

    The generator's own garbage collections would stall its sends and receipts and show up as
    the service's latency (an open-loop p99 of 100 ms where the service answered in 6): during a
    run it collects as rarely as a serving worker does."""
    previous = gc.get_threshold()
    tune_for_serving()
    try:
        try:
            import uvloop

            return uvloop.run(coroutine)  # type: ignore[arg-type,no-any-return]
        except ImportError:
            return asyncio.run(coroutine)  # type: ignore[arg-type]
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
