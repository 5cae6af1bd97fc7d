"""Running the scheduled jobs in-process against the test database, at a chosen moment."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from loyalty.config import Settings
from loyalty.db.engine import make_engine, make_sessionmaker
from loyalty.jobs import service
from loyalty.jobs.service import JobSettings, JobsSummary

# Small batches, so a handful of customers already spans several batches (and transactions).
TEST_JOBS = JobSettings(batch_size=2, timezone="Europe/Moscow")

RunJobs = Callable[..., list[JobsSummary]]


def run_job_runner(settings: Settings, now: datetime, job: JobSettings = TEST_JOBS) -> JobsSummary:
    async def main() -> JobsSummary:
        engine = make_engine(settings)
        try:
            return await service.run_all(make_sessionmaker(engine), now, job)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.fixture
def run_jobs(app_settings: Settings) -> RunJobs:
    """`run_jobs(now, runners=2)` runs that many job runners at once, each in its own thread
    with its own connections, as separate worker processes would."""

    def run(now: datetime, *, runners: int = 1) -> list[JobsSummary]:
        with ThreadPoolExecutor(max_workers=runners) as pool:
            futures = [pool.submit(run_job_runner, app_settings, now) for _ in range(runners)]
            return [future.result() for future in futures]

    return run
