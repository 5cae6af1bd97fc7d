"""Prometheus metrics, correct across `loyalty serve --workers N`.

With several workers, `loyalty serve` points `PROMETHEUS_MULTIPROC_DIR` at a directory before
the workers start; each worker then writes its samples to memory-mapped files there and
`GET /metrics`, whichever worker answers it, sums all of them. With one worker (and in tests)
the ordinary in-process registry is used. Gauges say how they combine across workers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from loyalty import __version__
from loyalty.config import Settings

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Around the till's budget: p99 ≤ 50 ms is the target, 2 s the hard deadline.
LATENCY_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

HTTP_REQUEST_DURATION = Histogram(
    "loyalty_http_request_duration_seconds",
    "Time from the first byte of a request to the end of its response.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS_SECONDS,
)
HTTP_REQUESTS_IN_PROGRESS = Gauge(
    "loyalty_http_requests_in_progress",
    "Requests being handled now.",
    multiprocess_mode="livesum",
)
REQUESTS_SHED = Counter(
    "loyalty_http_requests_shed",
    "Requests refused with a fast 503 because the worker was at its in-flight limit.",
)
ACCOUNT_CACHE_LOOKUPS = Counter(
    "loyalty_account_cache_lookups",
    "Till tokens resolved from memory (hit), from the database (miss), or from the database"
    " because the change listener is down (off).",
    ["outcome"],
)
IDEMPOTENT_REPLAYS = Counter(
    "loyalty_idempotent_replays",
    "Writes answered from an earlier identical request (Idempotency-Replayed: true).",
    ["route"],
)
LEDGER_TRANSACTIONS = Counter(
    "loyalty_ledger_transactions",
    "Ledger transactions committed, by kind.",
    ["kind"],
)
VERIFICATION_CODES = Counter(
    "loyalty_verification_codes",
    "Verification codes handed to the sender, by purpose and outcome (sent, failed).",
    ["purpose", "outcome"],
)
DB_POOL_IN_USE = Gauge(
    "loyalty_db_pool_connections_in_use",
    "Database connections checked out by requests now.",
    multiprocess_mode="livesum",
)
DB_POOL_OPEN = Gauge(
    "loyalty_db_pool_connections_open",
    "Database connections open now (in use and idle).",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "loyalty_db_pool_connections_max",
    "Most connections the pools may open (pool size plus overflow, over all workers).",
    multiprocess_mode="livesum",
)
BUILD_INFO = Gauge(
    "loyalty_build_info", "The running version.", ["version"], multiprocess_mode="max"
)

_PENDING_LEDGER_KINDS = "loyalty.metrics.ledger_kinds"


def multiprocess_directory() -> Path | None:
    value = os.environ.get(MULTIPROCESS_ENV)
    return Path(value) if value else None


def render(accept: str | None) -> tuple[bytes, str]:
    """The exposition in the format the scraper asked for (Prometheus text by default)."""
    encode, content_type = choose_encoder(accept or "")
    directory = multiprocess_directory()
    if directory is None:
        return encode(REGISTRY), content_type
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return encode(registry), content_type


# --- ledger transactions: counted when the transaction that wrote them commits ---------------


def note_ledger_transaction(session: AsyncSession, kind: str) -> None:
    session.sync_session.info.setdefault(_PENDING_LEDGER_KINDS, []).append(kind)


def _count_committed(session: Session) -> None:
    for kind in session.info.pop(_PENDING_LEDGER_KINDS, ()):
        LEDGER_TRANSACTIONS.labels(kind=kind).inc()


def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_LEDGER_KINDS, None)


def install_session_listeners() -> None:
    if not event.contains(Session, "after_commit", _count_committed):
        event.listen(Session, "after_commit", _count_committed)
        event.listen(Session, "after_rollback", _forget_rolled_back)


# --- connection pool --------------------------------------------------------------------------


def instrument_pool(engine: AsyncEngine, max_connections: int) -> Callable[[], None]:
    """Follow the pool through its events; returns the function that stops following it."""
    pool = engine.sync_engine.pool
    listeners: list[tuple[str, Callable[..., None]]] = [
        ("checkout", lambda *_: DB_POOL_IN_USE.inc()),
        ("checkin", lambda *_: DB_POOL_IN_USE.dec()),
        ("connect", lambda *_: DB_POOL_OPEN.inc()),
        ("close", lambda *_: DB_POOL_OPEN.dec()),
        ("detach", lambda *_: DB_POOL_OPEN.dec()),
    ]
    for name, listener in listeners:
        event.listen(pool, name, listener)
    DB_POOL_MAX.inc(max_connections)

    def release() -> None:
        DB_POOL_MAX.dec(max_connections)
        for name, listener in listeners:
            if event.contains(pool, name, listener):
                event.remove(pool, name, listener)

    return release


# --- worker processes -------------------------------------------------------------------------


def prepare_multiprocess_directory(configured: Path | None) -> tuple[Path, bool]:
    """The directory workers share, emptied (samples of a previous run would be added in).
    Returns it and whether it is a temporary directory the caller removes afterwards."""
    if configured is None:
        return Path(tempfile.mkdtemp(prefix="loyalty-metrics-")), True
    configured.mkdir(parents=True, exist_ok=True)
    for stale in configured.glob("*.db"):
        stale.unlink()
    return configured, False


def remove_multiprocess_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_started() -> None:
    """Drop the live gauges of workers that died without shutting down (a crash, SIGKILL):
    the supervisor replaced them, and their in-use connections are gone."""
    BUILD_INFO.labels(version=__version__).set(1)
    directory = multiprocess_directory()
    if directory is None:
        return
    for path in directory.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                mark_process_dead(int(match.group(1)), str(directory))  # type: ignore[no-untyped-call]


def worker_stopping() -> None:
    if multiprocess_directory() is not None:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def observe_worker(engine: AsyncEngine, settings: Settings) -> Callable[[], None]:
    """Start the metrics of one serving process; returns what to call when it stops."""
    install_session_listeners()
    release_pool = instrument_pool(
        engine, settings.DATABASE_POOL_SIZE + settings.DATABASE_MAX_OVERFLOW
    )
    worker_started()

    def stop() -> None:
        release_pool()
        worker_stopping()

    return stop
