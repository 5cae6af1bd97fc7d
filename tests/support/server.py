"""A real uvicorn server on a loopback port, in a background thread of the test process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI


class LiveServer:
    """`settle_account_changes` (the default) makes every request wait until the server has
    heard each account change committed before it: the till-token cache learns of changes
    through PostgreSQL notifications, which arrive a moment after the commit, and a test that
    changes a program and then sells must see the change. `tests/operations/test_account_cache.py`
    tests the cache without it."""

    def __init__(self, app: FastAPI, *, port: int = 0, settle_account_changes: bool = True) -> None:
        self.app = app
        served: Any = _SettleAccountChanges(app) if settle_account_changes else app
        config = uvicorn.Config(
            served, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="live-server", daemon=True)
        self.base_url = ""

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


def free_port() -> int:
    """A loopback port for a server whose own URL must be known before it starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _SettleAccountChanges:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        listener = getattr(self.app.state, "account_listener", None)
        if scope["type"] == "http" and listener is not None:
            # A listener that is down leaves the cache off: then there is nothing to wait for.
            with contextlib.suppress(Exception):
                await listener.sync(timeout_seconds=5)
        await self.app(scope, receive, send)
