"""Client-side limits MoySklad enforces per solution and account (spec §3.3): at most N
requests in flight and at most M request starts in any sliding window of P seconds.

Staying under the limits matters beyond speed: repeated 429s get the solution's API access
switched off automatically.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Throttle:
    def __init__(self, *, max_parallel: int, requests_per_period: int, period_seconds: float):
        self._in_flight = asyncio.Semaphore(max_parallel)
        self._limit = requests_per_period
        self._period = period_seconds
        self._starts: deque[float] = deque()
        self._gate = asyncio.Lock()
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """MoySklad said to wait (429 with X-Lognex-Retry-After): hold every caller back."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._in_flight:
            await self._wait_for_window()
            yield

    async def _wait_for_window(self) -> None:
        async with self._gate:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                while self._starts and now - self._starts[0] >= self._period:
                    self._starts.popleft()
                if len(self._starts) < self._limit:
                    self._starts.append(now)
                    return
                await asyncio.sleep(self._period - (now - self._starts[0]))
