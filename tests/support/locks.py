"""Holding rows locked from outside the server, so requests that need them stay in flight."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tests.support.waiting import wait_until


def plain_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class HeldRowLock:
    """`SELECT … FOR UPDATE` in a transaction of its own, kept open until `release()`."""

    def __init__(self, url: str, select_for_update: str, *args: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._connection: asyncpg.Connection = self._run(asyncpg.connect(plain_url(url)))
        self._run(self._connection.execute("BEGIN"))
        self.locked_rows = len(self._run(self._connection.fetch(select_for_update, *args)))

    def _run(self, awaitable: Any) -> Any:
        return self._loop.run_until_complete(awaitable)

    def waiting_requests(self) -> int:
        """Server connections of this database blocked on a lock right now.

        The lock's own transaction asks, and PostgreSQL keeps the first activity snapshot taken
        in a transaction until it ends: without clearing it, connections the server opened
        after the first look would never be seen."""
        self._run(self._connection.execute("SELECT pg_stat_clear_snapshot()"))
        return int(
            self._run(
                self._connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'loyalty' AND wait_event_type = 'Lock'"
                )
            )
        )

    def wait_for_waiting_requests(self, count: int, timeout_seconds: float = 30) -> None:
        wait_until(
            lambda: self.waiting_requests() >= count,
            f"fewer than {count} requests reached the lock",
            seconds=timeout_seconds,
        )

    def release(self) -> None:
        if not self._loop.is_closed():
            self._run(self._connection.execute("COMMIT"))
            self._run(self._connection.close())
            self._loop.close()
