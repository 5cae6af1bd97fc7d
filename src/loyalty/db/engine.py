"""Engine and sessionmaker construction, with the latency budget set on every connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from loyalty.config import Settings
from loyalty.db.driver import STATEMENTS_ON_POOL


def make_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    connect_args: dict[str, Any] = {
        "server_settings": {
            "application_name": "loyalty",
            "statement_timeout": str(settings.DATABASE_STATEMENT_TIMEOUT_MS),
            "lock_timeout": str(settings.DATABASE_LOCK_TIMEOUT_MS),
            "idle_in_transaction_session_timeout": "30000",
            "timezone": "UTC",
        },
        "timeout": 5,
    }
    if make_url(settings.require_database_url()).query.get("prepared_statement_cache_size") == "0":
        # The one documented knob turns off asyncpg's own statement cache too, which the hot
        # path's statements use (`loyalty.db.driver`): a pgbouncer in transaction mode older
        # than 1.21 needs both off.
        connect_args["statement_cache_size"] = 0
    if not pooled:
        return create_async_engine(
            settings.require_database_url(),
            poolclass=NullPool,
            connect_args=connect_args,
            hide_parameters=True,
        )
    engine = create_async_engine(
        settings.require_database_url(),
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_MAX_OVERFLOW,
        pool_timeout=settings.DATABASE_POOL_TIMEOUT_SECONDS,
        pool_pre_ping=settings.DATABASE_POOL_PRE_PING,
        pool_recycle=1800,
        connect_args=connect_args,
        # Statement parameters hold phones and names: keep them out of errors and logs.
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A connection the server closed (restart, reset) is already marked closed by the driver:
    the pool replaces it at no cost, where a pre-ping would cost round trips on every request."""
    driver_connection = getattr(dbapi_connection, "driver_connection", None)
    if driver_connection is not None and driver_connection.is_closed():
        raise exc.DisconnectionError("connection closed by the server")


def make_sessionmaker(
    engine: AsyncEngine, *, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for endpoints that only read: autocommit, so no BEGIN/COMMIT round trips, and
    their driver statements on a connection of their own (`loyalty.db.driver`)."""
    return make_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), info={STATEMENTS_ON_POOL: True}
    )


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A bare asyncpg connection with the engine's settings, outside any pool: for LISTEN,
    which must hold one connection for as long as it listens."""
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        raw = await connection.get_raw_connection()
        yield raw.driver_connection
