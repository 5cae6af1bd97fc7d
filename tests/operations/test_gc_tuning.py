"""A serving worker collects garbage rarely and never rescans what it held at startup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from loyalty.common.gc_tuning import (
    FULL_COLLECTION_EVERY,
    MIDDLE_COLLECTION_EVERY,
    YOUNG_COLLECTION_ALLOCATIONS,
)

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, json, sys
    from loyalty.config import Settings
    from loyalty.main import create_app

    DEFAULT = gc.get_threshold()

    async def main():
        tuned = sys.argv[2] == "on"
        app = create_app(Settings(DATABASE_URL=sys.argv[1], ENV="test", TUNE_GC=tuned))
        async with app.router.lifespan_context(app):
            now = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}
            print(json.dumps(now | {"default": DEFAULT}))

    asyncio.run(main())
    """
)


def _started_worker(database_url: str, tuning: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, database_url, tuning],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=os.environ | {"LOYALTY_LOG_LEVEL": "WARNING"},
    )
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_a_started_worker_freezes_its_startup_objects_and_collects_less_often(
    database_url: str,
) -> None:
    tuned = _started_worker(database_url, "on")
    assert tuned["threshold"] == [
        YOUNG_COLLECTION_ALLOCATIONS,
        MIDDLE_COLLECTION_EVERY,
        FULL_COLLECTION_EVERY,
    ]
    assert isinstance(tuned["frozen"], int) and tuned["frozen"] > 10_000

    untouched = _started_worker(database_url, "off")
    assert untouched["threshold"] == untouched["default"] and untouched["frozen"] == 0
