"""Engine and sessionmaker construction, with the latency budget set on every connection."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from loyalty.config import Settings


def make_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    connect_args = {
        "server_settings": {
            "application_name": "loyalty",
            "statement_timeout": str(settings.DATABASE_STATEMENT_TIMEOUT_MS),
            "lock_timeout": str(settings.DATABASE_LOCK_TIMEOUT_MS),
            "idle_in_transaction_session_timeout": "30000",
            "timezone": "UTC",
        },
        "timeout": 5,
    }
    if not pooled:
        return create_async_engine(
            settings.require_database_url(),
            poolclass=NullPool,
            connect_args=connect_args,
            hide_parameters=True,
        )
    return create_async_engine(
        settings.require_database_url(),
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_MAX_OVERFLOW,
        pool_timeout=settings.DATABASE_POOL_TIMEOUT_SECONDS,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args,
        # Statement parameters hold phones and names: keep them out of errors and logs.
        hide_parameters=True,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
