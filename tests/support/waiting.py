"""Waiting for something a server does in the background (a listener, a reconnect)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], Any], failure: str, *, seconds: float) -> float:
    """Poll until `condition()` holds; fail with `failure` after `seconds`. Returns the wait."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, failure
        time.sleep(0.01)
    return time.monotonic() - started
