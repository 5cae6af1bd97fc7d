"""The request guard: the answer deadline, load shedding at admission, and the body's size and
type (413/415) before parsing.

One ASGI layer rather than three: every request passes through it, and each layer is a
coroutine frame, a wrapped `send` and, for the deadline, a task of its own per request. The
deadline is a timer on the request's own task instead."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass, field

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


def _size_message(max_body_bytes: int) -> str:
    return f"Размер запроса превышает {max_body_bytes // 1024} КБ."


async def refuse(
    scope: Scope,
    send: Send,
    error: DomainError,
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Answer `error` in the shape its path's API uses, before or instead of the app."""
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


@dataclass
class _Deadline:
    """One request's deadline. Past it, unless the app has begun its answer, the till gets a
    503 at once and the request's task is cancelled; the task then finishes its clean-up
    (rollback, returning the connection) after the answer has gone."""

    scope: Scope
    send: Send
    task: asyncio.Task[object]
    answer_started: bool = False
    expired: bool = False
    refusal: asyncio.Task[None] | None = field(default=None, repr=False)

    async def guarded_send(self, message: Message) -> None:
        if self.expired:
            return
        if message["type"] == "http.response.start":
            self.answer_started = True
        await self.send(message)

    def expire(self) -> None:
        if self.answer_started:
            return  # the answer is on its way: cutting it would lose it
        self.expired = True
        logger.warning(
            "request deadline exceeded", extra={"path": mask_text(self.scope.get("path", ""))}
        )
        self.refusal = asyncio.ensure_future(
            refuse(
                self.scope,
                self.send,
                ServiceUnavailable("Система лояльности не успела ответить. Повторите операцию."),
            )
        )
        self.task.cancel()


class RequestGuardMiddleware:
    """In order: the answer deadline (so queueing for admission counts toward it), admission,
    then the body's size, type and characters.

    Deadline: no answer later than `deadline_seconds`; past it the till gets a fast 503 to
    retry (writes are idempotent, so a retry after an unknown outcome is safe), and a stalled
    database cannot hold the answer back.

    Admission (load shedding): at most `max_in_flight` requests run in a worker at once; the
    others queue for a slot, and one that cannot start in time is answered at once with a 503
    and `Retry-After` (it never started, so it is safe to send again) instead of queueing until
    the deadline. How long a request may queue adapts, after CoDel: a worker is overloaded
    when, over the last `interval_seconds`, even the luckiest request queued longer than half
    the overload wait (a standing queue, not a burst). Then a request waits only
    `overload_wait_seconds`, so the admitted keep their latency and the excess learns in a
    fraction of the deadline; otherwise it may wait `burst_wait_seconds`, so a burst near
    capacity is served. Health, readiness and metrics are never shed.

    Body: larger than `max_body_bytes` is a 413 before it is read whole; a LoyaltyAPI body
    that is not JSON is a 415; NUL, which PostgreSQL text cannot hold, is a 400."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        deadline_seconds: float,
        max_in_flight: int,
        burst_wait_seconds: float,
        overload_wait_seconds: float,
        max_body_bytes: int,
        json_only_prefixes: tuple[str, ...],
        interval_seconds: float = 0.5,
        exempt_paths: frozenset[str] = frozenset({"/healthz", "/readyz", "/metrics"}),
    ) -> None:
        self.app = app
        self.deadline_seconds = deadline_seconds
        self.max_in_flight = max_in_flight
        self.burst_wait_seconds = burst_wait_seconds
        self.overload_wait_seconds = overload_wait_seconds
        self.max_body_bytes = max_body_bytes
        self.json_only_prefixes = json_only_prefixes
        self.interval_seconds = interval_seconds
        self.exempt_paths = exempt_paths
        # One state per event loop: an app object may be served by more than one (tests).
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AdmissionState] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope.get("query_string", b"")):
            await refuse(scope, send, InvalidRequest(_NUL_MESSAGE))
            return
        task = asyncio.current_task()
        assert task is not None, "ASGI requests run in a task"
        loop = asyncio.get_running_loop()
        deadline = _Deadline(scope, send, task)
        timer = loop.call_later(self.deadline_seconds, deadline.expire)
        try:
            await self._admit(scope, receive, deadline.guarded_send, loop)
        except asyncio.CancelledError:
            # Ours alone (no one else asked to cancel the task): the till has its 503.
            if not deadline.expired or task.uncancel() > 0:
                if deadline.refusal is not None:
                    deadline.refusal.cancel()  # the server answers a cancelled request itself
                raise
        except Exception as exc:
            if not deadline.expired:
                raise
            logger.warning(
                "late request failed after its deadline", extra={"error_type": type(exc).__name__}
            )
        finally:
            timer.cancel()
        if deadline.refusal is not None:
            await deadline.refusal

    def _state(self, loop: asyncio.AbstractEventLoop) -> _AdmissionState:
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _AdmissionState(
                asyncio.Semaphore(self.max_in_flight), interval_started_at=loop.time()
            )
        return state

    def _judge(self, state: _AdmissionState, now: float) -> None:
        elapsed = now - state.interval_started_at
        if elapsed >= self.interval_seconds:
            # An interval followed by a quiet spell says nothing about the queue now.
            standing = state.interval_min_wait > self.overload_wait_seconds / 2
            state.overloaded = standing and elapsed < 2 * self.interval_seconds
            state.interval_started_at, state.interval_min_wait = now, float("inf")

    async def _admit(
        self, scope: Scope, receive: Receive, send: Send, loop: asyncio.AbstractEventLoop
    ) -> None:
        if scope.get("path") in self.exempt_paths:
            await self._checked(scope, receive, send)
            return
        state = self._state(loop)
        arrived_at = loop.time()
        self._judge(state, arrived_at)
        if state.slots.locked():
            wait = self.overload_wait_seconds if state.overloaded else self.burst_wait_seconds
            try:
                # A waiter cancelled just after being woken hands its slot on
                # (Semaphore.acquire).
                async with asyncio.timeout(wait):
                    await state.slots.acquire()
            except TimeoutError:
                state.note_wait(wait)
                REQUESTS_SHED.inc()
                await refuse(
                    scope,
                    send,
                    Overloaded("Система лояльности перегружена. Повторите операцию через секунду."),
                    extra_headers=((b"retry-after", b"1"),),
                )
                return
            state.note_wait(loop.time() - arrived_at)
        else:
            await state.slots.acquire()  # a free slot: taken without waiting
            state.note_wait(0.0)
        try:
            await self._checked(scope, receive, send)
        finally:
            state.slots.release()

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> None:
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
                await refuse(scope, send, PayloadTooLarge(_size_message(self.max_body_bytes)))
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
                await refuse(scope, send, PayloadTooLarge(_size_message(self.max_body_bytes)))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
        if b"\\u0000" in body or b"\x00" in body:
            await refuse(scope, send, InvalidRequest(_NUL_MESSAGE))
            return
        path: str = scope.get("path", "")
        if body and path.startswith(self.json_only_prefixes):
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if content_type != b"application/json" and not content_type.endswith(b"+json"):
                await refuse(
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
