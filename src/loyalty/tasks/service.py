"""Background work of the MoySklad solution: catalogue sync, loyalty (re)connection and
housekeeping (forgetting old Vendor API calls, purging uninstalled accounts).

Every server process runs one runner. Tasks live in `moysklad_task`; a runner leases one row at
a time (SKIP LOCKED), works with no transaction open, then deletes or reschedules the row, so a
crash only delays the task until its lease runs out and several processes never run the same
task at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from loyalty.catalogue import service as catalogue_service
from loyalty.common.errors import DomainError
from loyalty.connection import service as connection_service
from loyalty.connection.errors import ConnectionInProgress
from loyalty.moysklad.runtime import MoySkladRuntime
from loyalty.tasks import repository
from loyalty.vendor import service as vendor_service

logger = logging.getLogger("loyalty.tasks")

LEASE_SECONDS = 600.0  # longer than any sync of a large catalogue at 45 requests per 3 s
MAX_ATTEMPTS = 25
HOUSEKEEPING_EVERY_SECONDS = 600.0


class RetryLater(Exception):
    def __init__(self, delay_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds
        self.reason = reason


async def _sync_catalogue(runtime: MoySkladRuntime, account_id: uuid.UUID) -> None:
    await catalogue_service.sync_catalogue(runtime, account_id)


async def _connect_loyalty(runtime: MoySkladRuntime, account_id: uuid.UUID) -> None:
    try:
        outcome = await connection_service.connect(
            runtime, account_id, rotate=False, interactive=False
        )
    except ConnectionInProgress as busy:
        raise RetryLater(60.0, busy.message) from busy
    if outcome.retry_after_seconds is not None:
        raise RetryLater(outcome.retry_after_seconds, outcome.error_detail or outcome.state)


HANDLERS: dict[str, Callable[[MoySkladRuntime, uuid.UUID], Awaitable[None]]] = {
    "sync_catalogue": _sync_catalogue,
    "connect_loyalty": _connect_loyalty,
}


def backoff_seconds(attempts: int) -> float:
    return float(min(30 * 2 ** max(attempts - 1, 0), 3600))


class TaskRunner:
    def __init__(self, runtime: MoySkladRuntime, *, poll_seconds: float) -> None:
        self._runtime = runtime
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._next_housekeeping = 0.0

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="moysklad-tasks")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None

    def wake(self) -> None:
        """New work was committed: look now instead of at the next poll."""
        self._wakeup.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self._housekeeping_when_due()
                ran = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("task runner failed; retrying after the poll interval")
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_seconds)
                self._wakeup.clear()

    async def run_once(self) -> bool:
        """Run the most overdue task, if any; True when one ran."""
        async with self._runtime.transaction() as session:
            claimed = await repository.claim_next(session, LEASE_SECONDS)
        if claimed is None:
            return False
        account_id, kind = claimed.account_id, claimed.kind
        try:
            await HANDLERS[kind](self._runtime, account_id)
        except RetryLater as retry:
            await self._reschedule(account_id, kind, retry.delay_seconds, retry.reason)
        except DomainError as error:
            if error.http_status == 503 and claimed.attempts < MAX_ATTEMPTS:
                await self._reschedule(
                    account_id, kind, backoff_seconds(claimed.attempts), error.message
                )
            else:
                # Refused for good (suspended, uninstalled, access revoked): the reason is on
                # the installation for the settings page; retrying would only repeat it.
                logger.warning(
                    "task dropped",
                    extra={"account_id": str(account_id), "kind": kind, "error": error.message},
                )
                await self._complete(account_id, kind, claimed.requested_at)
        except Exception as error:
            logger.exception("task failed", extra={"account_id": str(account_id), "kind": kind})
            if claimed.attempts < MAX_ATTEMPTS:
                await self._reschedule(
                    account_id, kind, backoff_seconds(claimed.attempts), repr(error)
                )
            else:
                await self._complete(account_id, kind, claimed.requested_at)
        else:
            await self._complete(account_id, kind, claimed.requested_at)
        return True

    async def _complete(self, account_id: uuid.UUID, kind: str, requested_at: datetime) -> None:
        async with self._runtime.transaction() as session:
            await repository.complete(session, account_id, kind, requested_at)

    async def _reschedule(
        self, account_id: uuid.UUID, kind: str, delay_seconds: float, reason: str
    ) -> None:
        async with self._runtime.transaction() as session:
            await repository.reschedule(session, account_id, kind, delay_seconds, reason)

    async def _housekeeping_when_due(self) -> None:
        if time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY_SECONDS
        now = self._runtime.clock.now()
        async with self._runtime.transaction() as session:
            await vendor_service.forget_old_calls(session, now)
        async with self._runtime.transaction() as session:
            await vendor_service.purge_expired(session, now)


class IdleRunner:
    """Stands in when the solution is not configured: nothing is ever queued to run."""

    def wake(self) -> None:
        return None
