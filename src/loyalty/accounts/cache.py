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
import logging
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
# The tables an AccountContext is read from; migration 0010 puts a notifying trigger on each.
WATCHED_TABLES = ("account", "api_token", "program_settings", "program_tier", "category_rule")
_INSTALLED_TRIGGERS = f"""
    SELECT count(*) FROM pg_trigger
     WHERE NOT tgisinternal AND tgenabled <> 'D'
       AND tgname IN ({", ".join(f"'{table}_notify_account_changed'" for table in WATCHED_TABLES)})
"""
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
        self._digests_by_account: dict[uuid.UUID, set[bytes]] = {}
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
            self._clear()
        self._entries[token_digest] = _Entry(context, self._monotonic())
        self._digests_by_account.setdefault(context.account_id, set()).add(token_digest)

    def account_changed(self, account: str) -> None:
        self._generation += 1
        try:
            account_id = uuid.UUID(account)
        except ValueError:  # EVERY_ACCOUNT (a TRUNCATE), or anything unexpected
            self._clear()
            return
        for digest in self._digests_by_account.pop(account_id, ()):
            self._entries.pop(digest, None)

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
        self._clear()

    def _clear(self) -> None:
        self._entries.clear()
        self._digests_by_account.clear()


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
        self._connected = asyncio.Event()
        self._one_query_at_a_time = asyncio.Lock()  # a connection runs one query at a time
        self._heard_once = False
        self._logged_at: float | None = None

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any failure."""
        retry_seconds = self._first_retry_seconds
        while True:
            try:
                async with self._connect() as connection:
                    try:
                        await self._listen(connection)
                    except BaseException:
                        # Dark at once, then drop the link without a goodbye: a graceful close
                        # of a dead connection can wait for TCP to give up.
                        self._cache.go_dark()
                        connection.terminate()
                        raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: nothing from memory, then retry
                self._log_failure(exc)
            finally:
                self._cache.go_dark()
                self._connected.clear()
                self._connection = None
                for waiting in self._awaiting.values():
                    waiting.cancel()
                self._awaiting.clear()
            if self._heard_once:
                retry_seconds = self._first_retry_seconds
            self._heard_once = False
            await asyncio.sleep(retry_seconds)
            retry_seconds = min(retry_seconds * 2, self._last_retry_seconds)

    async def _listen(self, connection: Any) -> None:
        await connection.execute("SET application_name = 'loyalty-listener'")
        installed = await connection.fetchval(_INSTALLED_TRIGGERS)
        if installed < len(WATCHED_TABLES):
            raise RuntimeError("account change triggers missing: migrate the database")
        lost = asyncio.Event()
        await connection.add_listener(CHANNEL, self._on_notification)
        # A server that closes the link (restart, terminate) turns the cache off at once, not
        # at the next heartbeat.
        connection.add_termination_listener(functools.partial(self._lose, lost))
        self._connection = connection
        # Live only once a notification has come back, not merely once LISTEN succeeded.
        await self.sync(timeout_seconds=self._heartbeat_seconds)
        self._heard_once = True
        self._cache.go_live()
        self._connected.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._heartbeat_seconds)
                raise ConnectionError("the listener's connection was closed")
            await self.sync(timeout_seconds=self._heartbeat_seconds)

    def _log_failure(self, exc: Exception) -> None:
        """Every failure after a live spell; otherwise at most one a minute (a database that is
        down would fill the log with reconnect attempts)."""
        now = time.monotonic()
        if self._heard_once or self._logged_at is None or now - self._logged_at >= 60:
            logger.warning("account change listener down; till tokens uncached: %r", exc)
            self._logged_at = now

    def _lose(self, lost: asyncio.Event, connection: Any) -> None:
        self._cache.go_dark()
        lost.set()

    async def sync(self, *, timeout_seconds: float = 2.0) -> None:
        """Return once every change committed before the call has been heard: PostgreSQL
        delivers notifications in commit order, so hearing one sent now proves it."""
        connection = self._connection
        if connection is None:
            raise ConnectionError("the account change listener is not connected")
        nonce = f"{_SYNC_PREFIX}{uuid.uuid4().hex}"
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
