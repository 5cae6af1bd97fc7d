"""Application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from loyalty import __version__
from loyalty.accounts.cache import AccountCache, AccountChangeListener
from loyalty.api import ERROR_SHAPES, LOYALTY_PREFIX, include_routes
from loyalty.common import crypto
from loyalty.common.clock import Clock
from loyalty.common.error_handlers import install_error_handlers
from loyalty.common.gc_tuning import tune_for_serving
from loyalty.common.middleware import RequestGuardMiddleware
from loyalty.common.openapi import install_openapi
from loyalty.config import Settings, load_settings
from loyalty.db.engine import (
    driver_connection,
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
)
from loyalty.db.migrate import resolve_database_url
from loyalty.observability.metrics import observe_worker
from loyalty.observability.middleware import ObservedFastAPI
from loyalty.tasks.lifespan import solution_lifespan
from loyalty.verification.senders import make_sender


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = resolve_database_url(settings or load_settings())
    crypto.install(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_sessionmaker = make_read_sessionmaker(engine)
        app.state.code_sender = make_sender(settings)
        stop_observing = observe_worker(engine, settings)
        stop_listening = _start_account_listener(app, settings)
        try:
            async with solution_lifespan(app, settings):
                if settings.TUNE_GC:
                    tune_for_serving()
                yield
        finally:
            await stop_listening()
            await app.state.code_sender.aclose()
            await engine.dispose()
            stop_observing()

    app = ObservedFastAPI(
        title="Loyalty provider for MoySklad",
        version=__version__,
        description=(
            "MoySklad LoyaltyAPI 1.0 on an exact, idempotent PostgreSQL bonus-points ledger."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.access_log = settings.ACCESS_LOG
    app.state.clock = clock or Clock()
    install_error_handlers(app, ERROR_SHAPES)
    install_openapi(app)
    include_routes(app)
    app.add_middleware(
        RequestGuardMiddleware,
        deadline_seconds=settings.REQUEST_DEADLINE_SECONDS,
        # The pool's size, not size plus overflow: a steady load above the pool would open
        # and close overflow connections all the time, each a server process, type look-ups
        # and five fresh plans per statement. Overflow stays for what admission does not
        # count: health checks, and requests still rolling back after their deadline.
        max_in_flight=settings.MAX_REQUESTS_IN_FLIGHT or settings.DATABASE_POOL_SIZE,
        burst_wait_seconds=settings.ADMISSION_WAIT_SECONDS,
        overload_wait_seconds=settings.ADMISSION_WAIT_OVERLOADED_SECONDS,
        max_body_bytes=settings.MAX_BODY_BYTES,
        json_only_prefixes=(LOYALTY_PREFIX,),
    )
    return app


def _start_account_listener(
    app: FastAPI, settings: Settings
) -> Callable[[], Coroutine[Any, Any, None]]:
    """Till tokens resolve from memory while a listener hears every account change. Returns
    what stops it."""
    app.state.account_cache = None
    app.state.account_listener = None
    if settings.ACCOUNT_CACHE_SECONDS <= 0:

        async def nothing_to_stop() -> None:
            return None

        return nothing_to_stop
    cache = AccountCache(max_age_seconds=settings.ACCOUNT_CACHE_SECONDS)
    listener_engine = make_engine(settings, pooled=False)
    listener = AccountChangeListener(cache, lambda: driver_connection(listener_engine))
    app.state.account_cache = cache
    app.state.account_listener = listener
    listening = asyncio.create_task(listener.run(), name="account-change-listener")

    async def stop() -> None:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await listener_engine.dispose()

    return stop
