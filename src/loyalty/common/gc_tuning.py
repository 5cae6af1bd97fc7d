"""Garbage collection tuned for a process that serves requests.

CPython collects its youngest generation after every 700 net allocations by default. A recalc
allocates thousands of short-lived objects (the receipt's models, Decimals, rows), so several
collections ran per request, and every so often a full collection walked every object the
process had kept since import (the app, SQLAlchemy's caches and compiled statements): pauses of
tens of milliseconds that landed in the latency tail. Objects alive once the worker has started
are frozen (never scanned again) and the young generation is collected after 50,000 allocations.
Reference cycles are still collected, only less often; memory stays bounded by the same
generational scheme.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_ALLOCATIONS = 50_000
MIDDLE_COLLECTION_EVERY = 20  # young collections
FULL_COLLECTION_EVERY = 100  # middle collections


def tune_for_serving() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, MIDDLE_COLLECTION_EVERY, FULL_COLLECTION_EVERY)
