"""A loopback TCP proxy between the app and PostgreSQL that injects faults on command.

It understands just enough of the PostgreSQL wire protocol to find a `COMMIT` sent with the
simple-query protocol (what asyncpg uses to commit) and can then swallow the server's reply and
cut the connection: the classic ambiguous commit, where the transaction is durable but the
client never hears so. It can also add latency and reset every open connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class FaultProxy:
    def __init__(self, open_upstream: Opener) -> None:
        self._open_upstream = open_upstream
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-proxy", daemon=True
        )
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.latency_seconds = 0.0
        self.commits_to_cut = 0
        self.commits_cut = 0
        self.port = 0

    # -- control (called from the test thread) -------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._call(self._start()).result(timeout=10)

    def stop(self) -> None:
        self._call(self._stop()).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def cut_next_commits(self, count: int = 1) -> None:
        self.commits_to_cut = count

    def reset_all(self) -> None:
        self._call(self._reset_all()).result(timeout=10)

    def _call(self, coroutine: Awaitable[Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]

    # -- proxy ------------------------------------------------------------------------------------
    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        await self._reset_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _reset_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await self._open_upstream()
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update({client_writer, server_writer})
        swallow_reply = asyncio.Event()
        upstream = asyncio.create_task(
            self._client_to_server(client_reader, server_writer, swallow_reply)
        )
        downstream = asyncio.create_task(
            self._server_to_client(server_reader, client_writer, swallow_reply)
        )
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for writer in (client_writer, server_writer):
            writer.transport.abort()
            self._writers.discard(writer)

    async def _client_to_server(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        swallow_reply: asyncio.Event,
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            # The first message of a connection (startup, cancel, SSL request) has no type byte.
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            writer.write(struct.pack("!I", length) + await reader.readexactly(length - 4))
            while True:
                kind = await reader.readexactly(1)
                length_bytes = await reader.readexactly(4)
                length = struct.unpack("!I", length_bytes)[0]
                payload = await reader.readexactly(length - 4)
                await self._delay()
                writer.write(kind + length_bytes + payload)
                await writer.drain()
                if (
                    kind == b"Q"
                    and payload.lstrip().upper().startswith(b"COMMIT")
                    and self.commits_to_cut
                ):
                    self.commits_to_cut -= 1
                    self.commits_cut += 1
                    swallow_reply.set()

    async def _server_to_client(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        swallow_reply: asyncio.Event,
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                if swallow_reply.is_set():
                    return  # the COMMIT reached the server; its answer never reaches the app
                await self._delay()
                writer.write(chunk)
                await writer.drain()

    async def _delay(self) -> None:
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)


def upstream_for(database_url: str) -> Opener:
    """How to reach the database of an asyncpg URL (unix socket directory or host:port)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    host = str(url.query.get("host") or url.host or "127.0.0.1")
    port = int(url.query.get("port") or url.port or 5432)  # type: ignore[arg-type]

    async def open_upstream() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if host.startswith("/"):
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    return open_upstream


def proxied_url(database_url: str, proxy_port: int) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    query = {key: value for key, value in url.query.items() if key not in ("host", "port")}
    query["ssl"] = "disable"
    return url.set(host="127.0.0.1", port=proxy_port, query=query).render_as_string(
        hide_password=False
    )
