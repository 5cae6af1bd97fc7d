"""`loyalty worker` and `loyalty jobs …`"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from loyalty.common import crypto
from loyalty.common.cli import emit
from loyalty.common.clock import Clock
from loyalty.config import load_settings
from loyalty.db.engine import make_engine, make_sessionmaker
from loyalty.db.migrate import resolve_database_url
from loyalty.jobs.worker import Worker, install_signal_handlers
from loyalty.webhooks.delivery import make_client

T = TypeVar("T")


def _with_worker(work: Callable[[Worker], Awaitable[T]], **overrides: Any) -> T:
    settings = resolve_database_url(load_settings())
    # Jobs scan across accounts; tills are protected by SKIP LOCKED and small batches instead.
    overrides = {
        "DATABASE_STATEMENT_TIMEOUT_MS": settings.JOBS_STATEMENT_TIMEOUT_MS,
        "DATABASE_POOL_SIZE": 4,
        **overrides,
    }
    settings = settings.model_copy(update=overrides)
    crypto.install(settings)

    async def main() -> T:
        engine = make_engine(settings)
        client = make_client()
        try:
            worker = Worker(settings, make_sessionmaker(engine), Clock(), client)
            return await work(worker)
        finally:
            await client.aclose()
            await engine.dispose()

    return asyncio.run(main())


@click.command("worker")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds between job runs (default: LOYALTY_WORKER_INTERVAL_SECONDS or 60).",
)
def worker_command(interval: float | None) -> None:
    """Run the scheduled jobs and deliver webhooks until SIGTERM."""
    overrides = {"WORKER_INTERVAL_SECONDS": interval} if interval is not None else {}

    async def work(worker: Worker) -> None:
        install_signal_handlers(worker)
        click.echo("worker started", err=True)
        await worker.run_forever()
        click.echo("worker stopped", err=True)

    _with_worker(work, **overrides)


@click.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs (for cron; `loyalty worker` runs them continuously)."""


@jobs_group.command("run-once")
@click.option("--no-webhooks", is_flag=True, help="Do not deliver due webhook events.")
def run_once(no_webhooks: bool) -> None:
    """Run every job once, deliver due webhooks, print a JSON summary."""

    async def work(worker: Worker) -> dict[str, Any]:
        summary: dict[str, Any] = (await worker.run_jobs()).as_json()
        if not no_webhooks:
            summary["webhooks"] = (await worker.deliver()).as_json()
        return summary

    summary = _with_worker(work)
    emit(summary)
    if summary["failed_jobs"]:
        sys.exit(1)
