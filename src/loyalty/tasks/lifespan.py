"""Start and stop the MoySklad client and the background task runner with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from loyalty.config import Settings
from loyalty.moysklad.client import MoySkladClient
from loyalty.moysklad.crypto import TokenCipher
from loyalty.moysklad.runtime import MoySkladRuntime
from loyalty.tasks.service import IdleRunner, TaskRunner


@asynccontextmanager
async def solution_lifespan(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    client = MoySkladClient(settings)
    runtime = MoySkladRuntime(
        settings=settings,
        sessionmaker=app.state.sessionmaker,
        client=client,
        cipher=TokenCipher(settings.MOYSKLAD_TOKEN_ENCRYPTION_KEYS),
        clock=app.state.clock,
    )
    app.state.moysklad_runtime = runtime
    runner: TaskRunner | None = None
    if settings.moysklad_configured:
        runner = TaskRunner(runtime, poll_seconds=settings.MOYSKLAD_TASK_POLL_SECONDS)
        runner.start()
    app.state.task_runner = runner or IdleRunner()
    try:
        yield
    finally:
        if runner is not None:
            await runner.stop()
        await client.aclose()
