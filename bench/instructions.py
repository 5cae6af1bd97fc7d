"""Machine instructions per request: the repeatable figure for a change too small to show
through the machine's drift in throughput or CPU time.

    git worktree add /tmp/before <commit>
    .venv/bin/python -m bench.instructions /tmp/before . --operation recalc

The app of each tree is driven in-process (ASGI calls, no HTTP server, no load generator)
against a small seeded database, under valgrind's callgrind, which counts instructions rather
than seconds: the count does not move with what else the machine runs. Each tree runs twice,
with `--requests` and three times as many after the same warm-up; the difference divided by
the extra requests is one request's cost, start-up and imports cancelled out. The serving
process's background work (the account-change listener, the task runner) is not started: it
runs by the clock, and under valgrind the clock runs fifty times slower than the requests.
PostgreSQL's own work is not counted. Needs valgrind (Debian's package).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from bench.run import checked_trees, drop_database, small_seeded_database
from bench.scenarios import TOKEN_HEADER, Workload

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_REQUESTS = 200
CONCURRENT_REQUESTS = 8
_COLLECTED = re.compile(rb"Collected : (\d+)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trees", nargs="*", type=Path, help="checkouts of the versions to compare")
    parser.add_argument("--operation", choices=("recalc", "commit"), default="recalc")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _serve_in_process(args.child, args.operation, args.requests)
        return
    trees = checked_trees(parser, args.trees or [ROOT])

    admin_url, url, seeded = small_seeded_database(args)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            seed_file = Path(scratch) / "seeded.pickle"
            seed_file.write_bytes(pickle.dumps({"url": url, "seeded": seeded}))
            for tree in trees:
                counts = [
                    _instructions(tree, seed_file, args.operation, requests)
                    for requests in (args.requests, 3 * args.requests)
                ]
                per_request = (counts[1] - counts[0]) / (2 * args.requests)
                print(
                    f"{tree}: {per_request / 1e6:.3f} M instructions per {args.operation}",
                    flush=True,
                )
    finally:
        drop_database(admin_url, url)


def _instructions(tree: Path, seed_file: Path, operation: str, requests: int) -> int:
    environment = os.environ | {"PYTHONPATH": os.pathsep.join([str(tree / "src"), str(ROOT)])}
    run = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            str(seed_file),
            "--operation",
            operation,
            "--requests",
            str(requests),
        ],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    found = _COLLECTED.search(run.stderr)
    if run.returncode != 0 or found is None:
        sys.exit(f"{tree}: the run failed:\n{run.stderr.decode(errors='replace')[-3000:]}")
    statuses = run.stdout.decode().strip()
    expected = "200" if operation == "recalc" else "201"
    if set(json.loads(statuses)) != {expected}:
        sys.exit(f"{tree}: answers other than {expected}: {statuses}")
    return int(found.group(1))


def _serve_in_process(seed_file: Path, operation: str, requests: int) -> None:
    """The child: one tree's app, driven by direct ASGI calls. Prints the statuses seen."""
    import uvloop

    stored = pickle.loads(seed_file.read_bytes())
    seeded = stored["seeded"]
    # Generous limits: under valgrind a request takes fifty times as long.
    os.environ.update(
        {
            "DATABASE_URL": stored["url"],
            "LOYALTY_ACCESS_LOG": "false",
            "LOYALTY_LOG_LEVEL": "WARNING",
            "LOYALTY_DATABASE_POOL_SIZE": str(CONCURRENT_REQUESTS),
            "LOYALTY_REQUEST_DEADLINE_SECONDS": "600",
            "LOYALTY_ADMISSION_WAIT_SECONDS": "600",
            "LOYALTY_ADMISSION_WAIT_OVERLOADED_SECONDS": "600",
        }
    )
    # The same receipts for every recalc run; fresh sale ids (no replays) for every commit run.
    seed = 1 if operation == "recalc" else time.time_ns()
    workload = Workload(seeded.customer_ids, seeded.weights, seed=seed)
    count = WARM_UP_REQUESTS + requests
    if operation == "recalc":
        path = "/loyalty/retaildemand/recalc"
        prepared = workload.prepared_recalcs(10)
        bodies = [prepared[index % len(prepared)] for index in range(count)]
    else:
        path = "/loyalty/retaildemand"  # new sale ids every run: no replays
        bodies = [workload.earning_commit(10)[0] for _ in range(count)]
    statuses = uvloop.run(_drive(path, bodies, seeded.token))
    print(json.dumps(statuses))


async def _drive(path: str, bodies: list[bytes], token: str) -> dict[int, int]:
    from loyalty.accounts.cache import AccountCache
    from loyalty.common.gc_tuning import tune_for_serving
    from loyalty.config import load_settings
    from loyalty.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker
    from loyalty.main import create_app
    from loyalty.observability.metrics import observe_worker
    from loyalty.verification.senders import make_sender

    settings = load_settings()
    app = create_app(settings)
    # The serving lifespan's request-path state, without its clock-driven background work.
    engine = make_engine(settings)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_sessionmaker = make_read_sessionmaker(engine)
    app.state.code_sender = make_sender(settings)
    cache = AccountCache(max_age_seconds=3600)
    cache.go_live()
    app.state.account_cache = cache
    app.state.account_listener = None
    stop_observing = observe_worker(engine, settings)
    tune_for_serving()
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (TOKEN_HEADER.lower().encode(), token.encode()),
    ]
    statuses: dict[int, int] = {}

    async def one(body: bytes) -> None:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect while the request runs
            raise AssertionError("unreachable")

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    async def run(chunk: list[bytes]) -> None:
        pending = iter(chunk)

        async def caller() -> None:
            for body in pending:
                await one(body)

        await asyncio.gather(*(caller() for _ in range(CONCURRENT_REQUESTS)))

    try:
        await run(bodies[:WARM_UP_REQUESTS])
        await run(bodies[WARM_UP_REQUESTS:])
    finally:
        stop_observing()
        await app.state.code_sender.aclose()
        await engine.dispose()
    return statuses


if __name__ == "__main__":
    main()
