"""Direct database access for arranging and inspecting state (never the code under test's path)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.config import Settings
from loyalty.db.engine import make_engine, make_sessionmaker

T = TypeVar("T")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.settings = Settings(DATABASE_URL=url)

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one committed transaction on its own connection."""

        async def main() -> T:
            engine = make_engine(self.settings, pooled=False)
            try:
                async with make_sessionmaker(engine)() as session, session.begin():
                    return await work(session)
            finally:
                await engine.dispose()

        return asyncio.run(main())

    def fetch(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async def work(session: AsyncSession) -> list[dict[str, Any]]:
            result = await session.execute(text(sql), params)
            return [dict(row) for row in result.mappings()]

        return self.run(work)

    def scalar(self, sql: str, **params: Any) -> Any:
        rows = self.fetch(sql, **params)
        return next(iter(rows[0].values())) if rows else None
