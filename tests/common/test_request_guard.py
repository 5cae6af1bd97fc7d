"""The request guard's deadline runs on the request's own task: what the till receives, what the
cut request still does after its 503, and which cancellations are not the guard's to swallow.

Driven as an ASGI callable around a small app, so a deadline can fall at an exact point of the
request; the end-to-end behaviour (a stalled database, a held lock) is in tests/reliability."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from loyalty.common.middleware import RequestGuardMiddleware

App = Callable[[Any, Any, Any], Awaitable[None]]


def _guard(app: App, *, deadline_seconds: float, max_in_flight: int = 1) -> RequestGuardMiddleware:
    return RequestGuardMiddleware(
        app,
        deadline_seconds=deadline_seconds,
        max_in_flight=max_in_flight,
        burst_wait_seconds=5,
        overload_wait_seconds=5,
        max_body_bytes=1024,
        json_only_prefixes=("/loyalty",),
    )


async def _call(guard: RequestGuardMiddleware) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": "GET", "path": "/loyalty/x", "headers": []}

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await guard(scope, receive, send)
    return sent


async def _answer(send: Any, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_past_the_deadline_the_till_gets_a_503_and_the_request_cleans_up_after_it() -> None:
    events: list[str] = []

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(5)
            await _answer(send)
        finally:
            events.append("clean-up started")
            await asyncio.sleep(0.05)  # a rollback's round trip
            events.append("clean-up done")

    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        guard = _guard(slow, deadline_seconds=0.1)
        cut = await _call(guard)
        # The slot came back: with one slot, the next request is admitted and cut in turn.
        return cut, await asyncio.wait_for(_call(guard), timeout=2)

    cut, next_cut = asyncio.run(main())
    assert cut[0]["status"] == 503 and next_cut[0]["status"] == 503
    assert json.loads(cut[1]["body"])["errors"][0]["code"] == 50300
    assert len(cut) == 2  # the 503 alone: nothing of the app's got through
    assert events == ["clean-up started", "clean-up done"] * 2


def test_an_answer_already_begun_is_not_cut() -> None:
    async def streaming(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.2)
        await send({"type": "http.response.body", "body": b"done"})

    sent = asyncio.run(_call(_guard(streaming, deadline_seconds=0.05)))
    assert [message.get("status", message.get("body")) for message in sent] == [200, b"done"]


def test_a_cancellation_from_elsewhere_is_not_swallowed() -> None:
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)

    async def main() -> bool:
        request = asyncio.ensure_future(_call(_guard(slow, deadline_seconds=10)))
        await asyncio.sleep(0.05)
        request.cancel()  # a server shutting down, say
        try:
            await request
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(main()) is True


def test_a_request_failing_after_its_deadline_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing_late(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            raise RuntimeError("rollback failed") from None

    with caplog.at_level(logging.WARNING, logger="loyalty.requests"):
        sent = asyncio.run(_call(_guard(failing_late, deadline_seconds=0.05)))
    assert sent[0]["status"] == 503
    assert "late request failed after its deadline" in caplog.text
