"""What a till token resolves to, kept by each worker and dropped the moment it changes.

Every till request starts by resolving its token to the account, its program settings, tiers
and category rules: a round trip that costs about as much service CPU as a recalc's own read.
They change rarely, so each worker keeps them in memory, keyed by the token's digest.

Freshness comes from PostgreSQL, not from a timer: triggers on every table the answer is built
from (migration 0010) notify `loyalty_account_changed` on commit, and one listening connection
per worker drops that account's entries. The races are closed as follows:

- a request that read the old rows before a change committed must not store them after the
  notification dropped them: an answer is stored only if no notification arrived while it was
  being read (the generation);
- notifications sent while the listener was not connected are lost: the cache answers nothing
  until the listener is back, and then starts empty;
- a link that died silently, or a pooler that cannot LISTEN, delivers nothing: a notification
  the listener sends itself every few seconds must come back, or the cache turns off.

So a revoked token or a changed program reaches every worker within the time a notification
takes (milliseconds), and within a few seconds when the listener's link breaks. The entry's
age limit (`LOYALTY_ACCOUNT_CACHE_SECONDS`) is a last bound, not the freshness mechanism.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from loyalty.accounts.schemas import AccountContext
from loyalty.observability.metrics import ACCOUNT_CACHE_LOOKUPS

logger = logging.getLogger("loyalty.accounts.cache")

CHANNEL = "loyalty_account_changed"
EVERY_ACCOUNT = "*"
_SYNC_PREFIX = "sync:"
# Enough for every till token of a large multi-tenant deployment; past it the cache starts over.
MAX_ENTRIES = 50_000


@dataclass(frozen=True)
class _Entry:
    context: AccountContext
    stored_at: float


class AccountCache:
    """Per-worker map from a till token's digest to its resolved account. Event-loop local:
    nothing here awaits, so no lock is needed."""

    def __init__(
        self,
        *,
        max_age_seconds: float,
        max_entries: int = MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: dict[bytes, _Entry] = {}
        self._generation = 0
        self._live = False
        self._max_age_seconds = max_age_seconds
        self._max_entries = max_entries
        self._monotonic = monotonic

    @property
    def live(self) -> bool:
        return self._live

    @property
    def generation(self) -> int:
        """Read before the database is asked; hand back to `store`."""
        return self._generation

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token_digest: bytes) -> AccountContext | None:
        if not self._live:
            ACCOUNT_CACHE_LOOKUPS.labels(outcome="off").inc()
            return None
        entry = self._entries.get(token_digest)
        if entry is not None and self._monotonic() - entry.stored_at <= self._max_age_seconds:
            ACCOUNT_CACHE_LOOKUPS.labels(outcome="hit").inc()
            return entry.context
        ACCOUNT_CACHE_LOOKUPS.labels(outcome="miss").inc()
        return None

    def store(self, token_digest: bytes, context: AccountContext, generation: int) -> None:
        if not self._live or generation != self._generation:
            return  # a change was announced while this answer was read: it may be stale
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[token_digest] = _Entry(context, self._monotonic())

    def account_changed(self, account: str) -> None:
        self._generation += 1
        if account == EVERY_ACCOUNT:
            self._entries.clear()
            return
        try:
            account_id = uuid.UUID(account)
        except ValueError:
            self._entries.clear()
            return
        for digest in [d for d, e in self._entries.items() if e.context.account_id == account_id]:
            del self._entries[digest]

    def go_live(self) -> None:
        """The listener is connected: changes from now on will be heard."""
        self._reset()
        self._live = True

    def go_dark(self) -> None:
        """The listener is gone: changes would go unheard, so nothing is answered from memory."""
        self._live = False
        self._reset()

    def _reset(self) -> None:
        self._generation += 1
        self._entries.clear()


# A context manager that yields a raw asyncpg connection and closes it on exit.
Connect = Callable[[], AbstractAsyncContextManager[Any]]


class AccountChangeListener:
    """One connection per worker that LISTENs for account changes and feeds `AccountCache`."""

    def __init__(
        self,
        cache: AccountCache,
        connect: Connect,
        *,
        heartbeat_seconds: float = 2.0,
        first_retry_seconds: float = 0.1,
        last_retry_seconds: float = 5.0,
    ) -> None:
        self._cache = cache
        self._connect = connect
        self._heartbeat_seconds = heartbeat_seconds
        self._first_retry_seconds = first_retry_seconds
        self._last_retry_seconds = last_retry_seconds
        self._connection: Any = None
        self._awaiting: dict[str, asyncio.Future[None]] = {}
        self._nonces = itertools.count()
        self._connected = asyncio.Event()
        self._one_query_at_a_time = asyncio.Lock()  # a connection runs one query at a time

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any failure."""
        retry_seconds = self._first_retry_seconds
        while True:
            lost = asyncio.Event()
            try:
                async with self._connect() as connection:
                    await connection.execute("SET application_name = 'loyalty-listener'")
                    await connection.add_listener(CHANNEL, self._on_notification)
                    # A server that closes the link (restart, terminate) turns the cache off at
                    # once, not at the next heartbeat.
                    connection.add_termination_listener(functools.partial(self._lose, lost))
                    self._connection = connection
                    self._cache.go_live()
                    self._connected.set()
                    retry_seconds = self._first_retry_seconds
                    while not lost.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(lost.wait(), self._heartbeat_seconds)
                            break
                        await self.sync(timeout_seconds=self._heartbeat_seconds)
                    raise ConnectionError("the listener's connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: stop answering from memory, then retry
                if self._cache.live:
                    logger.warning("account change listener lost; till tokens uncached: %r", exc)
            finally:
                self._cache.go_dark()
                self._connected.clear()
                self._connection = None
                for waiting in self._awaiting.values():
                    waiting.cancel()
                self._awaiting.clear()
            await asyncio.sleep(retry_seconds)
            retry_seconds = min(retry_seconds * 2, self._last_retry_seconds)

    def _lose(self, lost: asyncio.Event, connection: Any) -> None:
        self._cache.go_dark()
        lost.set()

    async def sync(self, *, timeout_seconds: float = 2.0) -> None:
        """Return once every change committed before the call has been heard: PostgreSQL
        delivers notifications in commit order, so hearing one sent now proves it."""
        connection = self._connection
        if connection is None:
            raise ConnectionError("the account change listener is not connected")
        nonce = f"{_SYNC_PREFIX}{os.getpid()}:{next(self._nonces)}"
        heard = asyncio.get_running_loop().create_future()
        self._awaiting[nonce] = heard
        try:
            async with asyncio.timeout(timeout_seconds):
                async with self._one_query_at_a_time:
                    await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, nonce)
                await heard
        finally:
            self._awaiting.pop(nonce, None)

    async def wait_connected(self, timeout_seconds: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_seconds)

    def _on_notification(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        if payload.startswith(_SYNC_PREFIX):
            heard = self._awaiting.get(payload)  # another worker's heartbeat is not for us
            if heard is not None and not heard.done():
                heard.set_result(None)
            return
        self._cache.account_changed(payload)
