"""What work spanning several transactions and MoySklad calls needs (sync, connection, tasks):
built once per process by the app's lifespan, or by a CLI command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.db.engine import make_engine, make_sessionmaker
from loyalty.moysklad.client import MoySkladClient
from loyalty.moysklad.crypto import TokenCipher


@dataclass(frozen=True)
class MoySkladRuntime:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    client: MoySkladClient
    cipher: TokenCipher
    clock: Clock

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """`async with runtime.transaction() as session:` one short, committed transaction."""
        return _transaction(self.sessionmaker)


@asynccontextmanager
async def _transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session, session.begin():
        yield session


@asynccontextmanager
async def standalone_runtime(settings: Settings) -> AsyncIterator[MoySkladRuntime]:
    """For commands run outside the server (`loyalty moysklad sync`)."""
    engine = make_engine(settings, pooled=False)
    client = MoySkladClient(settings)
    try:
        yield MoySkladRuntime(
            settings=settings,
            sessionmaker=make_sessionmaker(engine),
            client=client,
            cipher=TokenCipher(settings.MOYSKLAD_TOKEN_ENCRYPTION_KEYS),
            clock=Clock(),
        )
    finally:
        await client.aclose()
        await engine.dispose()
