"""What request ids, metrics and the JSON access log cost per request, in process.

    .venv/bin/python -m bench.observability_overhead [--requests 20000]

Drives a trivial `GET /ping` straight through the ASGI interface (no sockets, no database),
so the difference between the variants is the observability layer alone.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import statistics
import time
from typing import Any

from fastapi import APIRouter, FastAPI

from loyalty.config import Settings
from loyalty.observability.logs import build_handler
from loyalty.observability.middleware import ObservedFastAPI

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/ping",
    "raw_path": b"/ping",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"bench")],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 8000),
}


router = APIRouter()


@router.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


async def per_request_microseconds(app: Any, requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(SCOPE), _receive, _send)
    return (time.perf_counter() - started) / requests * 1e6


def plain_app() -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    return app


def observed_app(access_log: bool) -> FastAPI:
    app = ObservedFastAPI()
    app.access_log = access_log
    app.include_router(router)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    requests = parser.parse_args().requests
    root = logging.getLogger()
    root.addHandler(build_handler(Settings(DATABASE_URL="postgresql://unused/x"), io.StringIO()))
    variants = {
        "plain FastAPI": plain_app(),
        "observed, access log off": observed_app(False),
        "observed, access log at INFO": observed_app(True),
    }
    rounds: dict[str, list[float]] = {name: [] for name in variants}
    # Interleaved rounds, best of each: other load on the machine only ever adds time.
    for round_number in range(8):
        for name, app in variants.items():
            root.setLevel(logging.INFO if "INFO" in name else logging.WARNING)
            measured = asyncio.run(per_request_microseconds(app, requests // 8))
            if round_number:  # the first round warms caches (route table, OpenAPI)
                rounds[name].append(measured)
    base = min(rounds["plain FastAPI"])
    for name, measured in rounds.items():
        best, median = min(measured), statistics.median(measured)
        print(f"{name:30s} best {best:6.1f} µs (+{best - base:5.1f}), median {median:6.1f} µs")


if __name__ == "__main__":
    main()
