"""Request guards: body size and type (413/415) before parsing, load shedding at admission,
and the answer deadline."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loyalty.common.error_handlers import shape_for
from loyalty.common.errors import (
    DomainError,
    InvalidRequest,
    Overloaded,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from loyalty.observability.metrics import REQUESTS_SHED
from loyalty.observability.pii import mask_text

logger = logging.getLogger("loyalty.requests")

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NUL_MESSAGE = "Запрос содержит недопустимый символ (NUL). Проверьте данные на кассе."


def _has_nul(query_string: bytes) -> bool:
    return b"%00" in query_string or b"\x00" in query_string


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, json_only_prefixes: tuple[str, ...]
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.json_only_prefixes = json_only_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope.get("query_string", b"")):
            await self._refuse(scope, send, InvalidRequest(_NUL_MESSAGE))
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {key.lower(): value for key, value in scope["headers"]}
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_body_bytes
            except ValueError:
                too_large = True
            if too_large:
                await self._refuse(scope, send, PayloadTooLarge(self._size_message()))
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(scope, send, PayloadTooLarge(self._size_message()))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
        if b"\\u0000" in body or b"\x00" in body:
            await self._refuse(scope, send, InvalidRequest(_NUL_MESSAGE))
            return
        path: str = scope.get("path", "")
        if body and path.startswith(self.json_only_prefixes):
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if content_type != b"application/json" and not content_type.endswith(b"+json"):
                await self._refuse(
                    scope,
                    send,
                    UnsupportedMediaType(
                        "Тело запроса должно быть JSON (Content-Type: application/json)."
                    ),
                )
                return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _size_message(self) -> str:
        return f"Размер запроса превышает {self.max_body_bytes // 1024} КБ."

    @staticmethod
    async def _refuse(
        scope: Scope,
        send: Send,
        error: DomainError,
        extra_headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        path: str = scope.get("path", "")
        app = scope.get("app")
        shapes = getattr(app.state, "error_shapes", None) if app is not None else None
        body, media_type = shape_for(shapes, path)(error, path)
        payload = json.dumps(body, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.http_status,
                "headers": [
                    (b"content-type", media_type.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    *extra_headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@dataclass
class _AdmissionState:
    slots: asyncio.Semaphore
    interval_started_at: float
    overloaded: bool = False
    interval_min_wait: float = 0.0  # the shortest queueing of this interval

    def note_wait(self, seconds: float) -> None:
        self.interval_min_wait = min(self.interval_min_wait, seconds)


class AdmissionMiddleware:
    """Load shedding. At most `max_in_flight` requests run in a worker at once; the others
    queue for a slot, and one that cannot start in time is answered at once with a 503 and
    `Retry-After` (it never started, so it is safe to send again) instead of queueing until
    the deadline.

    How long a request may queue adapts, after CoDel: a worker is overloaded when, over the
    last `interval_seconds`, even the luckiest request queued longer than half the overload
    wait (a standing queue, not a burst). Then a request waits only `overload_wait_seconds`,
    so the admitted keep their latency and the excess learns in a fraction of the deadline;
    otherwise it may wait `burst_wait_seconds`, so a burst near capacity is served.
    Health, readiness and metrics are never shed."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        burst_wait_seconds: float,
        overload_wait_seconds: float,
        interval_seconds: float = 0.5,
        exempt_paths: frozenset[str] = frozenset({"/healthz", "/readyz", "/metrics"}),
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.burst_wait_seconds = burst_wait_seconds
        self.overload_wait_seconds = overload_wait_seconds
        self.interval_seconds = interval_seconds
        self.exempt_paths = exempt_paths
        # One state per event loop: an app object may be served by more than one (tests).
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AdmissionState] = (
            weakref.WeakKeyDictionary()
        )

    def _state(self) -> tuple[asyncio.AbstractEventLoop, _AdmissionState]:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _AdmissionState(
                asyncio.Semaphore(self.max_in_flight), interval_started_at=loop.time()
            )
        return loop, state

    def _judge(self, state: _AdmissionState, now: float) -> None:
        elapsed = now - state.interval_started_at
        if elapsed >= self.interval_seconds:
            # An interval followed by a quiet spell says nothing about the queue now.
            standing = state.interval_min_wait > self.overload_wait_seconds / 2
            state.overloaded = standing and elapsed < 2 * self.interval_seconds
            state.interval_started_at, state.interval_min_wait = now, float("inf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        loop, state = self._state()
        arrived_at = loop.time()
        self._judge(state, arrived_at)
        wait = self.overload_wait_seconds if state.overloaded else self.burst_wait_seconds
        try:
            # A waiter cancelled just after being woken hands its slot on (Semaphore.acquire).
            async with asyncio.timeout(wait):
                await state.slots.acquire()
        except TimeoutError:
            state.note_wait(wait)
            REQUESTS_SHED.inc()
            await BodyLimitMiddleware._refuse(
                scope,
                send,
                Overloaded("Система лояльности перегружена. Повторите операцию через секунду."),
                extra_headers=((b"retry-after", b"1"),),
            )
            return
        state.note_wait(loop.time() - arrived_at)
        try:
            await self.app(scope, receive, send)
        finally:
            state.slots.release()


class RequestDeadlineMiddleware:
    """No answer later than the deadline: past it the till gets a fast 503 to retry (writes are
    idempotent, so a retry after an unknown outcome is safe). The late request is cancelled and
    finishes its clean-up (rollback, returning the connection) in the background, so a stalled
    database cannot hold the answer back."""

    def __init__(self, app: ASGIApp, *, deadline_seconds: float) -> None:
        self.app = app
        self.deadline_seconds = deadline_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False
        expired = False

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if expired:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.deadline_seconds)
        if task in done or response_started:
            await task
            return
        expired = True
        task.cancel()
        task.add_done_callback(_retrieve_outcome)
        logger.warning(
            "request deadline exceeded", extra={"path": mask_text(scope.get("path", ""))}
        )
        await BodyLimitMiddleware._refuse(
            scope,
            send,
            ServiceUnavailable("Система лояльности не успела ответить. Повторите операцию."),
        )


def _retrieve_outcome(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning(
            "late request failed after its deadline",
            extra={"error_type": type(task.exception()).__name__},
        )
