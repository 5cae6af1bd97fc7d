"""`loyalty worker`: the scheduled jobs every LOYALTY_WORKER_INTERVAL_SECONDS and the webhook
delivery loop every LOYALTY_WEBHOOK_POLL_SECONDS, until SIGTERM or SIGINT.

On a signal both loops finish the batch in hand (its transaction commits) and stop; nothing is
cut off mid-transaction. Any number of workers may run: the jobs and the deliveries lock what
they work on with SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import replace

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.jobs import service
from loyalty.webhooks import delivery

logger = logging.getLogger("loyalty.worker")

# Passes of `run_once` stop here even if deliveries keep coming due (receivers failing fast).
MAX_DELIVERY_PASSES = 1000


def job_settings(settings: Settings) -> service.JobSettings:
    return service.JobSettings(
        batch_size=settings.JOBS_BATCH_SIZE,
        timezone=settings.JOBS_TIMEZONE,
        webhook_retention_days=settings.WEBHOOK_RETENTION_DAYS,
        throttle_stale_seconds=max(
            86_400, settings.CODE_LOOKUP_WINDOW_SECONDS, settings.COMPAT_RATE_LIMIT_WINDOW_SECONDS
        ),
    )


class Worker:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        client: httpx.AsyncClient,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._client = client
        self.stopping = asyncio.Event()
        self._job = replace(job_settings(settings), should_stop=self.stopping.is_set)
        self._delivery = delivery.DeliverySettings.of(settings)

    def stop(self) -> None:
        self.stopping.set()

    async def run_jobs(self) -> service.JobsSummary:
        return await service.run_all(self._sessionmaker, self._clock.now(), self._job)

    async def deliver(self) -> delivery.DeliveryCounts:
        """Delivery passes until nothing is due (or the pass limit)."""
        total = delivery.DeliveryCounts()
        for _ in range(MAX_DELIVERY_PASSES):
            counts = await delivery.deliver_due(self._sessionmaker, self._client, self._delivery)
            total.add(counts)
            if counts.attempted == 0 or self.stopping.is_set():
                break
        return total

    async def run_forever(self) -> None:
        await asyncio.gather(self._jobs_loop(), self._delivery_loop())

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def _jobs_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                summary = await self.run_jobs()
                logger.info("scheduled jobs ran", extra=summary.as_json())
            except Exception:
                logger.exception("scheduled jobs failed; retrying after the interval")
            await self._pause(self._settings.WORKER_INTERVAL_SECONDS)

    async def _delivery_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.deliver()
            except Exception:
                logger.exception("webhook delivery failed; retrying after the poll interval")
            await self._pause(self._settings.WEBHOOK_POLL_SECONDS)


def install_signal_handlers(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
